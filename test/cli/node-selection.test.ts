// One node selector (inventory/refs.ts: resolveNodeRefs) for the fleet commands, rollout and name
// ranges: a typo in a node list refuses the whole command, naming every unknown name, before
// anything is done.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectGuests } from '../../src/ops/fleet.js';
import { loadInventory } from '../../src/ops/steps/store.js';
import { resolveNodeRefs } from '../../src/inventory/refs.js';
import { xenroot } from '../support/cli.js';

let dir: string;
let inv: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-select-'));
  mkdirSync(join(dir, 'img'));
  inv = join(dir, 'inventory.yaml');
  writeFileSync(
    inv,
    [
      'site:',
      '  nfsServer: 10.0.2.2',
      'images:',
      `  t: { root: ${join(dir, 'img')}, kver: 6.1.0-28-amd64 }`,
      'guests:',
      '  lab-01: { image: t, mac: "00:16:3e:00:00:01" }',
      '  lab-02: { image: t }',
      'clients:',
      '  pc1: { mac: "aa:bb:cc:00:00:01", image: t }',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one node selector', () => {
  it('names every unknown reference at once, with the range each came from', async () => {
    const data = (await loadInventory(inv)).data;
    expect(() => resolveNodeRefs(data, 'guest', ['lab-01,lab-0l', 'lab-[01-04]'])).toThrow('no guest named "lab-0l", "lab-03" (from lab-[01-04]), "lab-04" (from lab-[01-04]) in the inventory');
  });

  it('fleet selection takes name ranges and MACs as rollout and client commands do', async () => {
    const i = await loadInventory(inv);
    expect(selectGuests(i, { names: ['lab-[01-02]'] })).toEqual(['lab-01', 'lab-02']);
    expect(selectGuests(i, { names: ['00-16-3E-00-00-01'] })).toEqual(['lab-01']);
  });

  it('stop with a typo among the names refuses the whole command with exit 3, touching no guest and naming the typo', async () => {
    const before = readFileSync(inv, 'utf8');
    const r = await xenroot(['--inventory', inv, '--connect', 'test:///default', 'stop', 'lab-01', 'lab-0x', 'lab-02'], { env: { XENROOT_STATE_DIR: join(dir, 'state') } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no guest named "lab-0x" in the inventory/);
    expect(r.stdout).toBe('');
    expect(readFileSync(inv, 'utf8')).toBe(before);
  });

});
