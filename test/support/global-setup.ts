// Builds the project once before any test runs: spawned-CLI tests run the bundle in dist/, not the sources.
// Type errors do not stop the run here (tsc still emits); `npm test` type-checks strictly first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.warn('global-setup: tsc reported errors (see above); dist/ was still emitted');
  const b = spawnSync('node', ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('global-setup: bundling the CLI failed (see above)');
}
