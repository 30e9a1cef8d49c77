// The layers of src/ and what each may import (docs/architecture.md explains them).
// test/architecture/layers.test.ts runs this rule set and fails on any violation.
//
//   cli -> serve -> ops -> { deploy, hypervisor, initrd } -> { render, image } -> inventory -> sys
//
// A folder imports its own files and the folders below it only: never one beside it, never one
// above it, so no two folders can import each other in a circle.
const LAYERS = {
  sys: [],
  inventory: ['sys'],
  render: ['inventory', 'sys'],
  image: ['sys'],
  initrd: ['image', 'inventory', 'sys'],
  hypervisor: ['render', 'inventory', 'sys'],
  deploy: ['render', 'inventory', 'sys'],
  ops: ['deploy', 'hypervisor', 'initrd', 'image', 'render', 'inventory', 'sys'],
  // The boot service: another front of the ops layer beside the CLI; only the CLI imports it.
  serve: ['ops', 'inventory', 'sys'],
  cli: ['serve', 'ops', 'inventory', 'sys'],
};

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${[layer, ...allowed].map((l) => `src/${l}`).join(', ')}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/(${[layer, ...allowed].join('|')})/`] },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'cli-reads-nothing-of-the-inventory',
      comment: 'the CLI may take enumerations (constants.ts) and where the inventory file is (paths.ts) from src/inventory, nothing that reads or writes it (nor zod: start-up)',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/inventory/', pathNot: '^src/inventory/(constants|paths)\\.ts$' },
    },
    {
      name: 'render-is-pure',
      comment: 'renderers are pure: nothing they reach may do I/O (files, processes, sockets) or hold the inventory store',
      severity: 'error',
      from: { path: '^src/render/' },
      to: {
        reachable: true,
        // node:net is reachable for isIP/isIPv4 (address validation) only.
        path: ['^(node:)?(fs|fs/promises|child_process|dgram|http|https|http2|tls|worker_threads)$', '^src/inventory/store\\.ts$', '^src/sys/(atomic|lifetime|lock|proc|which)\\.ts$', 'node_modules/(execa|node-pty|@unraid)/'],
      },
    },
    {
      name: 'ops-steps-serve-commands',
      comment: 'src/ops/steps holds steps shared by several commands; a step never imports a command (src/ops/*.ts)',
      severity: 'error',
      from: { path: '^src/ops/steps/' },
      to: { path: '^src/ops/[^/]+\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'no module imports itself through others',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], mainFields: ['module', 'main', 'types'] },
  },
};
