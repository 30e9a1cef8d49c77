// Builds the project once before any test runs (spawned-CLI tests run the bundle in dist/, not the
// sources), unless scripts/test.sh already did (XENROOT_TEST_BUILT=1). Type errors do not stop the
// run here (tsc still emits); `npm test` type-checks strictly first.
// Gives the run a private temp root ($TMPDIR) and state dir, and fails the run when it leaves files
// outside them (test/support/footprint.ts; XENROOT_FOOTPRINT_CHECK=warn only reports them).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { footprint, footprintChanges } from './footprint.js';

/** Mount points at or below `dir` (this mount namespace). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
}

/** tsc (type errors do not stop it: it still emits) and the CLI bundle, into dist/. */
function build(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.warn('global-setup: tsc reported errors (see above); dist/ was still emitted');
  const b = spawnSync('node', ['scripts/bundle.mjs'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('global-setup: bundling the CLI failed (see above)');
}

export default function setup(): () => void {
  const before = footprint();
  // Every test's temp files (os.tmpdir(), mktemp) and xenroot's state (manifests, caches, keys) go
  // to one private directory, never /tmp itself or /var/lib/xenroot of the machine running the tests.
  const runTmp = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'xenroot-suite-'));
  // Traversable (0711, not listable) like /tmp itself: daemons a test starts as another user
  // (dnsmasq as nobody serving a TFTP root, qemu) must reach the test's own directories below it.
  chmodSync(runTmp, 0o711);
  process.env.TMPDIR = runTmp;
  process.env.XENROOT_STATE_DIR ??= join(runTmp, 'state');
  // scripts/test.sh builds once (scripts/setup.sh) and says so: no second build per vitest run.
  if (process.env.XENROOT_TEST_BUILT !== '1') build();
  return () => {
    const left = mountsUnder(runTmp);
    // Never remove a tree that still has something mounted in it (the removal would reach into the mount).
    if (left.length === 0) rmSync(runTmp, { recursive: true, force: true });
    const changes = [...left.map((m) => `mount left ${m}`), ...footprintChanges(before, footprint())];
    if (changes.length) {
      const text = `the test run left ${changes.length} path(s) outside its temp dirs:\n${changes.map((c) => `  ${c}`).join('\n')}`;
      console.error(`\nglobal-setup: ${text}\n`);
      // On a machine shared with other runs (their temp files would be blamed on this one), an
      // engineer may ask for a report only; CI and scripts/fresh-machine.sh never set this.
      if (process.env.XENROOT_FOOTPRINT_CHECK === 'warn') return;
      process.exitCode = 1;
      throw new Error(text);
    }
  };
}
