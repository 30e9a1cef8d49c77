import { configDefaults, defineConfig } from 'vitest/config';

// Two projects, one run (`vitest run --project unit|e2e` picks one):
//  unit  test/**/*.test.ts       fast, no daemons (unit, golden, property, CLI in-process or spawned)
//  e2e   test/**/*.e2e.test.ts   real components (QEMU, libvirtd, nfs-ganesha, loop devices); root only
// The global setup (build, private temp dir, footprint check) runs once for the whole run.
// Each project repeats the shared options instead of `extends: true`, which would give it the root's
// global setup too (it then ran once per project: two builds).
const shared = { pool: 'forks', testTimeout: 180_000, hookTimeout: 600_000 } as const;

export default defineConfig({
  test: {
    ...shared,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/**/*.e2e.test.ts'] } },
      { test: { ...shared, name: 'e2e', include: ['test/**/*.e2e.test.ts'] } },
    ],
  },
});
