#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what it needs, builds once, runs every
# test (vitest projects unit and e2e, one run). Then the real-Xen tests (nested Xen 4.17 under QEMU
# TCG), on their own so that no other QEMU competes with them: XENROOT_SKIP_XEN=1 leaves them out.
# Arguments are passed to vitest (and then the Xen part is skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh   # ends with `npm run build`: dist/ is this tree's
export XENROOT_TEST_BUILT=1
npm run -s typecheck
npx vitest run "$@"
if [ $# -eq 0 ] && [ -z "${XENROOT_SKIP_XEN:-}" ]; then
  XENROOT_TEST_XEN=1 npx vitest run --project e2e test/xen
fi
