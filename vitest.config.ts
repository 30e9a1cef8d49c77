import { defineConfig } from 'vitest/config';

// One run, two kinds of test files:
//  test/**/*.test.ts       fast, no daemons (unit, golden, property, CLI in-process or spawned)
//  test/**/*.e2e.test.ts   real components (QEMU, libvirtd, nfs-ganesha, loop devices); root only
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 600_000,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
