// Builds the project once before any test runs: spawned-CLI tests run the bundle in dist/, not the sources.
// Type errors do not stop the run here (tsc still emits); `npm test` type-checks strictly first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): () => void {
  // xenroot's state (manifests of generated files) of every test goes to a private directory, never
  // /var/lib/xenroot of the machine running the tests.
  const state = mkdtempSync(join(tmpdir(), 'xenroot-test-state-'));
  process.env.XENROOT_STATE_DIR ??= state;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.warn('global-setup: tsc reported errors (see above); dist/ was still emitted');
  const b = spawnSync('node', ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('global-setup: bundling the CLI failed (see above)');
  return () => rmSync(state, { recursive: true, force: true });
}
