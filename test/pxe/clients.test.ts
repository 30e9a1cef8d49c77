import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { addClient, getClient, listClients, removeClient, setClient } from '../../src/ops/clients.js';
import { InventoryError } from '../../src/sys/errors.js';
import { updateInventory } from '../../src/ops/steps/store.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

let site: SyncSite;
beforeAll(async () => {
  site = await makeSite({ guests: { Terminal: { image: 'terminal', mac: '00:16:3e:11:22:33', macSource: 'given' } } });
});
afterAll(() => site.cleanup());

describe('clients in the inventory', () => {
  it('normalises the MAC, names the client after it and picks the only image', async () => {
    const r = await addClient(site.inventory, { mac: '00-16-3E-AA-BB-01' });
    expect(r).toEqual({ name: '00-16-3e-aa-bb-01', client: { mac: '00:16:3e:aa:bb:01', image: 'terminal' } });
    expect(await readFile(site.inventory, 'utf8')).toContain('# test inventory');
  });

  it('refuses a MAC already used by a guest or a client, naming the owner, in any spelling', async () => {
    await expect(addClient(site.inventory, { mac: '00:16:3E:11:22:33', name: 'x' })).rejects.toThrow(/already used by guest Terminal/);
    await expect(addClient(site.inventory, { mac: '00163eaabb01', name: 'y' })).rejects.toThrow(/already used by client 00-16-3e-aa-bb-01/);
    await addClient(site.inventory, { mac: '00:16:3e:aa:bb:02', name: 'pc2' });
    await expect(setClient(site.inventory, 'pc2', { mac: '00:16:3e:aa:bb:01' })).rejects.toThrow(InventoryError);
  });

  it('refuses bad values before touching the inventory, with the same error (exit 3) the file gets for them', async () => {
    await expect(addClient(site.inventory, { mac: '01:00:5e:00:00:01' })).rejects.toThrow(InventoryError);
    await expect(addClient(site.inventory, { mac: '00:16:3e:aa:bb:09', root: 'nocolon' })).rejects.toThrow(/SERVER:\/PATH/);
    await expect(addClient(site.inventory, { mac: '00:16:3e:aa:bb:09', append: 'a"b' })).rejects.toThrow(InventoryError);
    await expect(addClient(site.inventory, { mac: '00:16:3e:aa:bb:09', image: 'nope' })).rejects.toThrow(/image "nope" is not in the inventory/);
  });

  it('needs --image once there is more than one image', async () => {
    await updateInventory(site.inventory, (inv) => inv.set(['images', 'other'], { root: '/srv/other', kver: '6.1.0-1-amd64' }));
    await expect(addClient(site.inventory, { mac: '00:16:3e:aa:bb:0a' })).rejects.toThrow(/--image is required/);
    await addClient(site.inventory, { mac: '00:16:3e:aa:bb:0a', image: 'other' });
    await removeClient(site.inventory, '00-16-3e-aa-bb-0a');
    await updateInventory(site.inventory, (inv) => inv.delete(['images', 'other']));
  });

  it('sets and clears append and root, and removes clients', async () => {
    const r = await setClient(site.inventory, 'pc2', { append: 'console=ttyS0', root: '10.0.0.5:/srv/x' });
    expect(r.client).toEqual({ mac: '00:16:3e:aa:bb:02', image: 'terminal', append: 'console=ttyS0', root: '10.0.0.5:/srv/x' });
    expect((await setClient(site.inventory, 'pc2', { append: '', root: '' })).client).toEqual({ mac: '00:16:3e:aa:bb:02', image: 'terminal' });
    expect((await setClient(site.inventory, 'pc2', {})).changed).toBe(false);
    expect(Object.keys(await listClients(site.inventory))).toEqual(['00-16-3e-aa-bb-01', 'pc2']);
    await removeClient(site.inventory, 'pc2');
    await expect(getClient(site.inventory, 'pc2')).rejects.toThrow(/no client named "pc2"/);
  });

  it('works from the CLI with --json and exit code 3 for a duplicate', async () => {
    const env = { XENROOT_INVENTORY: site.inventory };
    const add = await xenroot(['--json', 'client', 'add', '00:16:3e:aa:bb:0c', '--name', 'cli1', '--append', 'quiet'], { env });
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toEqual({ name: 'cli1', client: { mac: '00:16:3e:aa:bb:0c', image: 'terminal', append: 'quiet' } });
    const dup = await xenroot(['client', 'add', '00:16:3E:AA:BB:0C'], { env });
    expect(dup.code).toBe(3);
    expect(dup.stderr).toContain('MAC 00:16:3e:aa:bb:0c is already used by client cli1');
    const list = await xenroot(['client', 'list'], { env });
    expect(list.stdout).toMatch(/cli1\s+00:16:3e:aa:bb:0c\s+terminal/);
    expect((await xenroot(['client', 'remove', 'cli1'], { env })).code).toBe(0);
  });
});
