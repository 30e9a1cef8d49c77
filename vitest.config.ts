import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

// Two projects, one run (`vitest run --project unit|e2e` picks one):
//  unit  test/**/*.test.ts       fast, no daemons (unit, golden, property, CLI in-process or spawned)
//  e2e   test/**/*.e2e.test.ts   real components (QEMU, libvirtd, nfs-ganesha, loop devices); root only
// The global setup (build, private temp dir, footprint check) runs once for the whole run.
// Each project repeats the shared options instead of `extends: true`, which would give it the root's
// global setup too (it then ran once per project: two builds).
const shared = { pool: 'forks', testTimeout: 180_000, hookTimeout: 600_000 } as const;
// The unit files run first, at least two at a time: most of their time is spawned CLIs and waits
// (mmdebstrap failing on a closed mirror, SIGKILL trials), and vitest's default (cores - 1) ran them
// one at a time on a 2-core machine. Then the e2e files, with vitest's default (one at a time on 2
// cores, where a TCG QEMU takes a whole core).
const unitWorkers = Math.max(2, availableParallelism() - 1);

export default defineConfig({
  test: {
    ...shared,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/**/*.e2e.test.ts'], maxWorkers: unitWorkers, sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'e2e', include: ['test/**/*.e2e.test.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
