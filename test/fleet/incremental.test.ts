/**
 * The fast paths of sync give what the full plan gives: after each random edit of a fleet (clients
 * added, removed, moved between groups, given their own append or a new MAC; a group or the site
 * changed), the tree an incremental sync leaves is byte for byte the tree a full sync makes from
 * scratch in another root, and the model cache serves every read of an inventory xenroot saved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { addClient, listClients, removeClients, setClients } from '../../src/ops/clients.js';
import { addGroup, setGroup } from '../../src/ops/groups.js';
import { sync } from '../../src/ops/sync.js';
import { updateInventory } from '../../src/ops/steps/store.js';
import { readModelCache } from '../../src/inventory/model-cache.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { hostKeysDir } from '../../src/deploy/host-keys.js';
import { under } from '../../src/deploy/manifest.js';
import { stateDir } from '../../src/inventory/paths.js';

let s: SyncSite;
beforeAll(async () => {
  s = await makeSite();
  await addGroup(s.inventory, 'a', { image: 'terminal', append: 'quiet', names: 'a-{nn}' });
  await addGroup(s.inventory, 'b', { image: 'terminal', append: 'splash' });
  for (let i = 0; i < 30; i++) await addClient(s.inventory, { mac: `52:54:00:10:00:${i.toString(16).padStart(2, '0')}`, name: `n${i}`, group: i % 2 ? 'a' : 'b' });
});
afterAll(() => s.cleanup());

/**
 * Every file under dir except xenroot's own state (manifest, model snapshot) and the clients'
 * entry sets no switch link names (kept for a way back until `image prune`): relative path -> content.
 */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isSymbolicLink()) out.set(relative(dir, p), `-> ${await readlink(p)}`);
      else if (!p.includes('/sync/')) out.set(relative(dir, p), await readFile(p, 'utf8'));
    }
  };
  await walk(dir);
  const named = new Set([...out].filter(([p, v]) => /\/nodes\/[^/]+$/.test(p) && v.startsWith('-> entries/')).map(([, v]) => v.slice('-> entries/'.length)));
  for (const p of [...out.keys()]) {
    const set = /\/nodes\/entries\/([^/]+)\/[^/]+$/.exec(p)?.[1];
    if (set !== undefined && !named.has(set)) out.delete(p);
  }
  return out;
}

type Edit = { kind: 'add' | 'remove' | 'append' | 'mac' | 'move' | 'group' | 'site'; n: number };

async function apply(e: Edit, step: number): Promise<void> {
  const name = `n${e.n % 30}`;
  const exists = async () => Object.hasOwn(await listClients(s.inventory), name);
  if (e.kind === 'add') await addClient(s.inventory, { mac: `52:54:00:20:${(step >> 8).toString(16).padStart(2, '0')}:${(step & 255).toString(16).padStart(2, '0')}`, group: 'a', name: `x${step}` });
  else if (e.kind === 'group') await setGroup(s.inventory, 'a', { append: `quiet step=${step}` });
  else if (e.kind === 'site') await updateInventory(s.inventory, (inv) => inv.set(['site', 'nfsOptions'], `port=${2049 + step}`));
  else if (!(await exists())) return;
  else if (e.kind === 'remove') await removeClients(s.inventory, [name]);
  else if (e.kind === 'append') await setClients(s.inventory, [name], { append: `own=${step}` });
  else if (e.kind === 'mac') await setClients(s.inventory, [name], { mac: `52:54:00:30:${(step >> 8).toString(16).padStart(2, '0')}:${(step & 255).toString(16).padStart(2, '0')}` });
  else await setClients(s.inventory, [name], { group: e.n % 2 ? 'a' : 'b' });
}

describe('incremental sync', () => {
  it('after any sequence of edits, the incremental tree equals a full sync from scratch, and mostly takes the incremental path', async () => {
    await sync(s.inventory, { root: s.root });
    const modes: string[] = [];
    let step = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ kind: fc.constantFrom('add', 'remove', 'append', 'mac', 'move', 'move', 'append', 'group', 'site'), n: fc.nat(100) }), { minLength: 1, maxLength: 3 }), async (edits) => {
        for (const e of edits) await apply(e as Edit, ++step);
        expect(readModelCache(s.inventory, await readFile(s.inventory, 'utf8'))).toBeDefined();
        const r = await sync(s.inventory, { root: s.root });
        modes.push(r.mode);
        const fresh = join(s.dir, `fresh-${step}`);
        // The nodes' SSH host keys are made once and kept: the fresh root starts with the
        // same keys, so the identity pieces of both trees must be byte for byte the same.
        await cp(hostKeysDir(under(s.root, stateDir(s.inventory)), s.inventory), hostKeysDir(under(fresh, stateDir(s.inventory)), s.inventory), { recursive: true });
        const f = await sync(s.inventory, { root: fresh });
        expect(f.mode).toBe('full');
        expect(await tree(s.root)).toEqual(await tree(fresh));
        await rm(fresh, { recursive: true, force: true });
        expect((await sync(s.inventory, { root: s.root })).mode).toBe('no-op');
      }),
      // A fixed seed: how many batches may take the incremental path depends on which edits are
      // drawn (a site edit always plans in full), so a random draw made the count below flaky.
      { numRuns: 12, seed: 19 },
    );
    expect(modes.filter((m) => m === 'incremental').length).toBeGreaterThan(3);
  });
});
