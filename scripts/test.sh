#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what it needs, builds, runs every test.
# Then the real-Xen tests (nested Xen 4.17 under QEMU TCG, ~5-6 min on 2 cores), on their own so
# that no other QEMU competes with them: XENROOT_SKIP_XEN=1 leaves them out. Arguments are passed
# to vitest (and then the Xen part is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run -s typecheck
npx vitest run "$@"
if [ $# -eq 0 ] && [ -z "${XENROOT_SKIP_XEN:-}" ]; then
  XENROOT_TEST_XEN=1 npx vitest run test/xen
fi
