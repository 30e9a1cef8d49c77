// The layering of src/ (docs/architecture.md), checked on the real import graph with
// dependency-cruiser and the rule set in .dependency-cruiser.cjs; and no dead exports (knip).
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

async function cruiseSrc(): Promise<ICruiseResult> {
  const cwd = process.cwd();
  process.chdir(root);
  try {
    const options = await extractDepcruiseOptions('./.dependency-cruiser.cjs');
    const tsConfig = extractTSConfig('tsconfig.json');
    const r = await cruise(['src'], { ...options, validate: true, outputType: 'json' }, {}, { tsConfig });
    return (typeof r.output === 'string' ? JSON.parse(r.output) : r.output) as ICruiseResult;
  } finally {
    process.chdir(cwd);
  }
}

/** The folders of src/ and which folders each imports (a folder's own files left out). */
function folderGraph(result: ICruiseResult): Map<string, Set<string>> {
  const folder = (p: string): string | undefined => /^src\/([^/]+)\//.exec(p)?.[1];
  const graph = new Map<string, Set<string>>();
  for (const m of result.modules) {
    const from = folder(m.source);
    if (!from) continue;
    if (!graph.has(from)) graph.set(from, new Set());
    for (const d of m.dependencies) {
      const to = folder(d.resolved);
      if (to && to !== from) graph.get(from)!.add(to);
    }
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const next of graph.get(n) ?? []) {
      const c = visit(next);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

describe('architecture', () => {
  let result: ICruiseResult;
  beforeAll(async () => {
    result = await cruiseSrc();
  }, 120_000);

  it('every import of src/ keeps to the layer rules of .dependency-cruiser.cjs (layers, pure renderers, no module cycles)', () => {
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
    expect(violations).toEqual([]);
    expect(result.summary.totalCruised).toBeGreaterThan(100);
  });

  it('no two folders of src/ import each other, directly or around a circle', () => {
    const graph = folderGraph(result);
    expect([...graph.keys()].sort()).toEqual(['cli', 'deploy', 'hypervisor', 'image', 'initrd', 'inventory', 'ops', 'render', 'serve', 'sys']);
    expect(findCycle(graph)).toBeUndefined();
  });

  it('the cycle finder the previous test relies on finds a folder cycle when there is one', () => {
    const graph = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])]]);
    expect(findCycle(graph)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('mechanics never import the workflows or the fronts (CLI, boot service), and the fronts reach the mechanics only through src/ops', () => {
    const graph = folderGraph(result);
    for (const mech of ['inventory', 'render', 'hypervisor', 'image', 'initrd', 'deploy', 'sys']) {
      expect([...(graph.get(mech) ?? [])].filter((f) => f === 'ops' || f === 'cli' || f === 'serve'), mech).toEqual([]);
    }
    expect([...(graph.get('ops') ?? [])].filter((f) => f === 'cli' || f === 'serve')).toEqual([]);
    expect([...(graph.get('cli') ?? [])].sort()).toEqual(['inventory', 'ops', 'serve', 'sys']);
    expect([...(graph.get('serve') ?? [])].sort()).toEqual(['inventory', 'ops', 'sys']);
  });

  it('knip finds no unused file, export or dependency', async () => {
    const r = await execa('node', [fileURLToPath(new URL('../../node_modules/knip/bin/knip.js', import.meta.url)), '--no-progress', '--include', 'files,exports,types,dependencies'], { cwd: root, reject: false });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.exitCode).toBe(0);
  }, 300_000);
});
