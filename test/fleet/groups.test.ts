import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addClient, getClient, listClients, removeClients, setClients } from '../../src/ops/clients.js';
import { addGroup, listGroups, removeGroup, setGroup, showGroup } from '../../src/ops/groups.js';
import { showGuest } from '../../src/ops/guests.js';
import { createGuest } from '../../src/ops/create-guest.js';
import { sync } from '../../src/ops/sync.js';
import { expandRange, nextFreeNames, patternName } from '../../src/inventory/names.js';
import { InventoryError, UsageError } from '../../src/sys/errors.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

let site: SyncSite;
beforeAll(async () => {
  site = await makeSite({ site: { bridge: 'br-site' } });
});
afterAll(() => site.cleanup());

describe('name ranges and patterns', () => {
  it('expands lab-[01-40] with its zero padding, lists and several brackets, and refuses malformed ones', () => {
    expect(expandRange('lab-[01-03]')).toEqual(['lab-01', 'lab-02', 'lab-03']);
    expect(expandRange('n[1,3,9-10]')).toEqual(['n1', 'n3', 'n9', 'n10']);
    expect(expandRange('r[1-2]-[01-02]')).toEqual(['r1-01', 'r1-02', 'r2-01', 'r2-02']);
    expect(expandRange('plain')).toEqual(['plain']);
    expect(() => expandRange('lab-[5-1]')).toThrow(/runs backwards/);
    expect(() => expandRange('lab-[a-b]')).toThrow(UsageError);
    expect(() => expandRange('lab-[1-1000000]')).toThrow(/too large/);
  });

  it('a group name pattern fills the lowest free numbers first', () => {
    expect(patternName('lab-{nn}', 7)).toBe('lab-07');
    expect(patternName('pc{n}', 12)).toBe('pc12');
    const taken = new Set(['lab-01', 'lab-03']);
    expect(nextFreeNames('lab-{nn}', (n) => taken.has(n), 3)).toEqual(['lab-02', 'lab-04', 'lab-05']);
  });
});

describe('groups', () => {
  it('a client takes image and append from its group; its own value wins; show says where each came from', async () => {
    await addGroup(site.inventory, 'lab', { image: 'terminal', append: 'quiet', names: 'lab-{nn}' });
    await addClient(site.inventory, { mac: '52:54:00:0a:00:01', name: 'lab-01', group: 'lab' });
    await addClient(site.inventory, { mac: '52:54:00:0a:00:02', name: 'lab-02', group: 'lab', append: 'console=ttyS0' });
    expect(await readFile(site.inventory, 'utf8')).not.toMatch(/lab-01:\n\s+mac: [^\n]+\n\s+image/); // the image stays the group's
    const one = await getClient(site.inventory, 'lab-01');
    expect(one.client).toMatchObject({ image: 'terminal', append: 'quiet', group: 'lab' });
    expect(one.sources).toEqual({ image: { from: 'group', group: 'lab' }, append: { from: 'group', group: 'lab' }, root: { from: 'unset' } });
    const two = await getClient(site.inventory, 'lab-02');
    expect(two.client.append).toBe('console=ttyS0');
    expect(two.sources.append).toEqual({ from: 'own' });
    const r = await sync(site.inventory, { root: site.root });
    expect(r.counts.created).toBeGreaterThan(0);
    const pxe = (mac: string) => readFile(join(site.root, 'tftpboot/linux-install/pxelinux.cfg', `01-${mac.replace(/:/g, '-')}`), 'utf8');
    expect(await pxe('52:54:00:0a:00:01')).toMatch(/selinux=0 quiet\n/);
    expect(await pxe('52:54:00:0a:00:02')).toMatch(/selinux=0 console=ttyS0\n/);
    // Changing the group moves its members at the next sync.
    await setGroup(site.inventory, 'lab', { append: 'quiet splash' });
    const r2 = await sync(site.inventory, { root: site.root });
    // Its switch link moves to the entry of the new command line.
    expect(r2.changes.map((c) => c.path)).toContain('/tftpboot/linux-install/nodes/52-54-00-0a-00-01');
    expect(await pxe('52:54:00:0a:00:01')).toMatch(/selinux=0 quiet splash\n/);
    expect(await pxe('52:54:00:0a:00:02')).toMatch(/selinux=0 console=ttyS0\n/);
  });

  it('a guest takes image, append, connect and bridge from its group, else the site: show tells site from default', async () => {
    await addGroup(site.inventory, 'xen', { image: 'terminal', connect: 'xen+ssh://host1/system' });
    await createGuest(site.inventory, { name: 'G1', group: 'xen' });
    const g = await showGuest(site.inventory, 'G1');
    expect(g.guest).toMatchObject({ image: 'terminal', connect: 'xen+ssh://host1/system', bridge: 'br-site' });
    expect(g.sources).toMatchObject({ image: { from: 'group', group: 'xen' }, connect: { from: 'group', group: 'xen' }, bridge: { from: 'site', site: 'site.bridge' }, append: { from: 'unset' } });
    expect(await readFile(join(site.dir, 'guests/G1.cfg'), 'utf8')).toContain("vif = [ 'bridge=br-site' ]");
    await setGroup(site.inventory, 'xen', { bridge: 'br-xen' });
    expect((await showGuest(site.inventory, 'G1')).sources.bridge).toEqual({ from: 'group', group: 'xen' });
    const cli = await xenroot(['show', 'G1'], { env: { XENROOT_INVENTORY: site.inventory } });
    expect(cli.stdout).toMatch(/connect\s+xen\+ssh:\/\/host1\/system\s+group xen/);
    expect(cli.stdout).toMatch(/bridge\s+br-xen\s+group xen/);
  });

  it('lists groups with members, refuses to remove one that is still named, and refuses an unknown group', async () => {
    const groups = await listGroups(site.inventory);
    expect(groups.map((g) => [g.name, g.clients.length, g.guests.length])).toEqual([['lab', 2, 0], ['xen', 0, 1]]);
    expect((await showGroup(site.inventory, 'lab')).clients).toEqual(['lab-01', 'lab-02']);
    await expect(removeGroup(site.inventory, 'lab')).rejects.toThrow(/still has 2 members: client lab-01, client lab-02/);
    await expect(addClient(site.inventory, { mac: '52:54:00:0a:00:09', group: 'nope' })).rejects.toThrow(/group "nope" is not in the inventory/);
    await addGroup(site.inventory, 'empty', {});
    await removeGroup(site.inventory, 'empty');
  });

  it('an inventory edited by hand to name a missing group, or a member without any image, is refused naming the path', async () => {
    const text = await readFile(site.inventory, 'utf8');
    await writeFile(site.inventory, text.replace('group: lab', 'group: gone'));
    const r = await xenroot(['client', 'list'], { env: { XENROOT_INVENTORY: site.inventory } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/clients\.lab-01\.group: names group "gone", which is not in groups/);
    await writeFile(site.inventory, text);
  });
});

describe('clients by name or MAC, several at once', () => {
  it('show, set and remove take the MAC in any notation, ranges and comma lists', async () => {
    await addClient(site.inventory, { mac: 'AA-BB-CC-00-00-01', name: 'm1' });
    expect((await getClient(site.inventory, 'aa:bb:cc:00:00:01')).name).toBe('m1');
    expect((await getClient(site.inventory, 'AABBCC000001')).name).toBe('m1');
    await expect(getClient(site.inventory, 'aa:bb:cc:00:00:99')).rejects.toThrow(/no client named or with MAC "aa:bb:cc:00:00:99"/);
    const set = await setClients(site.inventory, ['lab-[01-02]', 'aa-bb-cc-00-00-01'], { append: 'nomodeset' });
    expect(set.map((c) => c.name)).toEqual(['lab-01', 'lab-02', 'm1']);
    expect(Object.values(await listClients(site.inventory)).every((c) => c.append === 'nomodeset')).toBe(true);
    await expect(setClients(site.inventory, ['lab-[01-05]'], { append: '' })).rejects.toThrow(/no client named "lab-03" \(from lab-\[01-05\]\)/);
    await expect(setClients(site.inventory, ['lab-01,lab-02'], { mac: '52:54:00:0a:00:07' })).rejects.toThrow(UsageError);
    const cli = await xenroot(['client', 'remove', 'AA:BB:CC:00:00:01'], { env: { XENROOT_INVENTORY: site.inventory } });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('removed client m1');
    const gone = await removeClients(site.inventory, ['lab-01,52-54-00-0a-00-02']);
    expect(gone.map((c) => c.name)).toEqual(['lab-01', 'lab-02']);
    await expect(removeClients(site.inventory, ['lab-01'])).rejects.toThrow(InventoryError);
  });
});
