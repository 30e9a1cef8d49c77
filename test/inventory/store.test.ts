import { mkdtempSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { InventoryError } from '../../src/sys/errors.js';
import { createGuest } from '../../src/ops/create-guest.js';
import { removeGuest } from '../../src/ops/remove-guest.js';
import { pinFirstBootMac } from '../../src/ops/start-guest.js';
import { initInventory } from '../../src/ops/init.js';
import { addImage } from '../../src/ops/images.js';
import { loadInventory, updateInventory } from '../../src/ops/steps/store.js';
import { openInventoryStore } from '../../src/inventory/store.js';

let dir: string;
let inv: string;

function imageDir(root: string, kver = '6.1.0-28-amd64'): string {
  mkdirSync(join(root, 'boot'), { recursive: true });
  mkdirSync(join(root, 'lib/modules', kver), { recursive: true });
  writeFileSync(join(root, 'boot', `vmlinuz-${kver}`), '');
  return root;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-inv-'));
  inv = join(dir, 'inventory.yaml');
  await initInventory(inv, { nfsServer: '10.0.2.2' });
  await addImage(inv, { name: 'terminal', root: imageDir(join(dir, 'img')) });
});

describe('inventory store', () => {
  it('runs the rules it was opened with on a read and on an edit, and no others', async () => {
    const noKiosk = (data: { guests: Record<string, unknown> }) => (data.guests.Kiosk ? [{ path: ['guests', 'Kiosk'], message: 'no kiosks here' }] : []);
    const strict = openInventoryStore([noKiosk]);
    const lax = openInventoryStore([]);
    await expect(strict.updateInventory(inv, (i) => i.set(['guests', 'Kiosk'], { image: 'terminal' }))).rejects.toThrow(/guests\.Kiosk: no kiosks here/);
    expect(readFileSync(inv, 'utf8')).not.toContain('Kiosk');
    await lax.updateInventory(inv, (i) => i.set(['guests', 'Kiosk'], { image: 'terminal' }));
    expect(strict.parseInventoryText.bind(strict, readFileSync(inv, 'utf8'), inv)).toThrow(/guests\.Kiosk: no kiosks here/);
    expect(lax.parseInventoryText(readFileSync(inv, 'utf8'), inv).data.guests.Kiosk).toBeDefined();
  });

  it('keeps hand-written comments when create writes the file back', async () => {
    const text = readFileSync(inv, 'utf8').replace('guests:', '# the lab machines, ask Bob before changing\nguests:\n  # kiosk in the hall\n  Kiosk:\n    image: terminal # pinned by hand');
    writeFileSync(inv, text);
    await createGuest(inv, { name: 'Terminal', image: 'terminal', memory: 256 });
    const after = readFileSync(inv, 'utf8');
    expect(after).toContain('# the lab machines, ask Bob before changing');
    expect(after).toContain('# kiosk in the hall');
    expect(after).toContain('image: terminal # pinned by hand');
    expect(after).toContain('# The address guests and PXE clients mount their root filesystem from.');
    expect((await loadInventory(inv)).data.guests.Terminal?.memory).toBe(256);
  });

  it('names the file and the path inside it for an invalid value', async () => {
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('guests:', 'guests:\n  Terminal:\n    image: terminal\n    memory: lots'));
    await expect(loadInventory(inv)).rejects.toThrow(`${inv}: guests.Terminal.memory: must be a whole number of MiB (32-1048576)`);
  });

  it('names the line and column of a YAML syntax error', async () => {
    writeFileSync(inv, 'site:\n  nfsServer: [unclosed\n');
    await expect(loadInventory(inv)).rejects.toThrow(/inventory\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('refuses a guest whose image does not exist, naming it', async () => {
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('guests:', 'guests:\n  T:\n    image: nope'));
    await expect(loadInventory(inv)).rejects.toThrow('guests.T.image: names image "nope", which is not in images');
  });

  it('refuses a duplicate MAC naming the other owner', async () => {
    await createGuest(inv, { name: 'a', image: 'terminal', mac: '00:16:3E:00:00:01' });
    await expect(createGuest(inv, { name: 'b', image: 'terminal', mac: '00-16-3e-00-00-01' })).rejects.toThrow('MAC 00:16:3e:00:00:01 is already used by guest a');
  });

  it('refuses an invalid MAC with what is accepted', async () => {
    await expect(createGuest(inv, { name: 'a', image: 'terminal', mac: '00:00:00:00:00:00' })).rejects.toThrow(InventoryError);
    await expect(createGuest(inv, { name: 'a', image: 'terminal', mac: '01:00:5e:00:00:01' })).rejects.toThrow(/unicast, not all zero/);
  });

  it('leaves the file untouched when a change does not validate', async () => {
    const before = readFileSync(inv, 'utf8');
    await expect(
      updateInventory(inv, (i) => {
        i.set(['guests', 'x'], { image: 'terminal', memory: 1 });
      }),
    ).rejects.toThrow(/guests\.x\.memory/);
    expect(readFileSync(inv, 'utf8')).toBe(before);
  });

  it('checks the rules between entries after an edit of one entry (image exists, MAC unique)', async () => {
    await createGuest(inv, { name: 'a', image: 'terminal', mac: '00:16:3e:00:00:07' });
    await expect(updateInventory(inv, (i) => i.set(['guests', 'x'], { image: 'nope' }))).rejects.toThrow('guests.x.image: names image "nope", which is not in images');
    await expect(updateInventory(inv, (i) => i.set(['clients', 'pc'], { mac: '00:16:3e:00:00:07', image: 'terminal' }))).rejects.toThrow(
      'clients.pc.mac: 00:16:3e:00:00:07 is already used by guest a',
    );
    await expect(updateInventory(inv, (i) => i.set(['site', 'nfsServer'], '300.1.1.1'))).rejects.toThrow('site.nfsServer: must be a dotted IPv4 address');
  });

  it('writes nothing when a change is a no-op', async () => {
    const { mtimeMs } = await import('node:fs').then((fs) => fs.statSync(inv));
    await updateInventory(inv, () => undefined);
    const fs = await import('node:fs');
    expect(fs.statSync(inv).mtimeMs).toBe(mtimeMs);
  });

  it('allocates --mac auto under the Xen OUI with the fourth byte below 0x80', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await createGuest(inv, { name: `g${i}`, image: 'terminal', mac: 'auto' });
      expect(r.guest.mac).toMatch(/^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
      expect(r.guest.macSource).toBe('allocated');
    }
    const macs = Object.values((await loadInventory(inv)).data.guests).map((g) => g.mac);
    expect(new Set(macs).size).toBe(20);
  });

  it('pins a MAC once: a second first-boot pin keeps the first MAC', async () => {
    await createGuest(inv, { name: 'T', image: 'terminal' });
    const first = await pinFirstBootMac(inv, 'T', '00:16:3e:11:22:33');
    const second = await pinFirstBootMac(inv, 'T', '00:16:3e:44:55:66');
    expect(first).toEqual({ mac: '00:16:3e:11:22:33', observed: '00:16:3e:11:22:33', outcome: 'pinned' });
    expect(second).toEqual({ mac: '00:16:3e:11:22:33', observed: '00:16:3e:44:55:66', outcome: 'kept' });
    expect(readFileSync(join(dir, 'guests/T.cfg'), 'utf8')).toContain("vif = [ 'mac=00:16:3e:11:22:33,bridge=xenbr0' ]");
    expect(readFileSync(join(dir, 'guests/T.xml'), 'utf8')).toContain('<mac address="00:16:3e:11:22:33"/>');
  });

  it('remove deletes the guest and its generated files', async () => {
    const r = await createGuest(inv, { name: 'T', image: 'terminal' });
    expect(existsSync(r.files.cfg)).toBe(true);
    await removeGuest(inv, 'T');
    expect(existsSync(r.files.cfg)).toBe(false);
    expect(existsSync(r.files.xml)).toBe(false);
    await expect(removeGuest(inv, 'T')).rejects.toThrow(InventoryError);
  });

  it('refuses to init over an existing inventory', async () => {
    await expect(initInventory(inv, { nfsServer: '10.0.2.2' })).rejects.toThrow(/exists already/);
  });

  it('detects the newest kernel of a directory image', async () => {
    const root = imageDir(join(dir, 'img2'), '6.1.0-9-amd64');
    imageDir(root, '6.1.0-28-amd64');
    const r = await addImage(inv, { name: 'two', root });
    expect(r.image.kver).toBe('6.1.0-28-amd64');
  });
});
