// Start/stop/status/define and first-boot MAC pinning against libvirt's test driver (no daemon).
// test:///default is shared by the whole process, so every test uses its own guest names.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/sys/errors.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt.js';
import { defineGuest, undefineGuest } from '../../src/ops/define-guest.js';
import { guestStatus } from '../../src/ops/guest-status.js';
import { startGuest } from '../../src/ops/start-guest.js';
import { stopGuest } from '../../src/ops/stop-guest.js';
import { readLiveMac, unpinnableReason } from '../../src/hypervisor/pin.js';
import { loadInventory, updateInventory } from '../../src/ops/steps/store.js';
import { inventoryFixture } from './fixture.js';

const fx = inventoryFixture({ connect: 'test:///default' });
// libvirt's test:///default state lives while a connection to it is open: each workflow opens and
// closes its own, so one held for the whole file keeps the domains between them (without it, the
// state survived only until the binding's closed connections were garbage-collected).
const keepalive = new LibvirtHypervisor('test:///default');
beforeAll(() => keepalive.connect());
afterAll(async () => {
  await keepalive.close();
  fx.cleanup();
});

async function pinned(name: string): Promise<{ mac: string | undefined; source: string | undefined; cfg: string; xml: string }> {
  const g = (await loadInventory(fx.file)).data.guests[name];
  return {
    mac: g?.mac,
    source: g?.macSource,
    cfg: readFileSync(join(fx.guestDir, `${name}.cfg`), 'utf8'),
    xml: readFileSync(join(fx.guestDir, `${name}.xml`), 'utf8'),
  };
}

describe('first-boot MAC pinning on test:///default', () => {
  it('pins the MAC libvirt generated on first start: inventory, NAME.cfg and NAME.xml all show it', async () => {
    await fx.addGuest('pin-a');
    const before = await pinned('pin-a');
    expect(before.mac).toBeUndefined();
    expect(before.cfg).not.toMatch(/mac=/);
    expect(before.xml).not.toMatch(/<mac /);

    const r = await startGuest(fx.file, 'pin-a');
    expect(r).toMatchObject({ uri: 'test:///default', target: 'qemu', mode: 'transient', state: 'running', pin: 'pinned' });
    expect(r.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(r.pinnedMac).toBe(r.mac);

    const after = await pinned('pin-a');
    expect(after.mac).toBe(r.mac);
    expect(after.source).toBe('first-boot');
    expect(after.cfg).toContain(`mac=${r.mac}`);
    expect(after.xml).toContain(`<mac address="${r.mac}"/>`);
    expect(readFileSync(fx.file, 'utf8')).toContain('# hypervisor test inventory');
  });

  it('a second start reuses the pinned MAC', async () => {
    const first = (await pinned('pin-a')).mac;
    const stop = await stopGuest(fx.file, 'pin-a');
    expect(stop).toMatchObject({ how: 'shutdown', before: 'running', after: 'undefined' });
    const r = await startGuest(fx.file, 'pin-a');
    expect(r.pin).toBe('already-pinned');
    expect(r.mac).toBe(first);
    expect(r.warnings).toEqual([]);
    await stopGuest(fx.file, 'pin-a', { force: true });
  });

  it('a defined guest is redefined from the inventory and started; its MAC is pinned once', async () => {
    await fx.addGuest('pin-def');
    expect(await defineGuest(fx.file, 'pin-def')).toMatchObject({ defined: true, uri: 'test:///default' });
    const r = await startGuest(fx.file, 'pin-def');
    expect(r).toMatchObject({ mode: 'defined', pin: 'pinned' });
    expect((await pinned('pin-def')).mac).toBe(r.mac);
    const st = await stopGuest(fx.file, 'pin-def', { force: true });
    expect(st).toMatchObject({ how: 'destroy', after: 'shutoff' });
    const again = await startGuest(fx.file, 'pin-def');
    expect(again).toMatchObject({ mode: 'defined', pin: 'already-pinned', mac: r.mac });
    await stopGuest(fx.file, 'pin-def', { force: true });
    expect(await undefineGuest(fx.file, 'pin-def')).toMatchObject({ undefined: true });
    expect((await guestStatus(fx.file, 'pin-def'))[0]?.state).toBe('undefined');
  });

  it('two concurrent first starts on two hosts pin one MAC: the first is kept and the other start reports it', async () => {
    // Two test-driver instances (a custom node file opens a private instance per connection):
    // each host generates its own MAC for the same guest.
    const node = join(fx.dir, 'node.xml');
    writeFileSync(node, "<node><domain type='test'><name>placeholder</name><memory>65536</memory><os><type>hvm</type></os></domain></node>\n");
    const a = new LibvirtHypervisor(`test://${node}`);
    const b = new LibvirtHypervisor(`test://${node}`);
    await Promise.all([a.connect(), b.connect()]);
    try {
      await fx.addGuest('pin-race');
      // Both starts have read the guest (unpinned) before either creates its domain, so neither
      // sees the other's pin: each start reads the inventory under the lock one after the other,
      // and without this barrier the second could read the first one's pin (and boot with it).
      let arrived = 0;
      let release!: () => void;
      const both = new Promise<void>((r) => (release = r));
      const gated = (h: LibvirtHypervisor) =>
        new Proxy(h, {
          get(t, p) {
            if (p === 'create') return async (g: Parameters<LibvirtHypervisor['create']>[0]) => ((++arrived === 2 && release(), await both), t.create(g));
            const v = Reflect.get(t, p, t) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        });
      const [ra, rb] = await Promise.all([startGuest(fx.file, 'pin-race', { hypervisor: gated(a) }), startGuest(fx.file, 'pin-race', { hypervisor: gated(b) })]);
      expect(ra.mac).not.toBe(rb.mac);
      expect(ra.pinnedMac).toBe(rb.pinnedMac);
      expect([ra.pin, rb.pin].sort()).toEqual(['kept', 'pinned']);
      const loser = ra.pin === 'kept' ? ra : rb;
      expect(loser.warnings.join()).toContain('pinned');
      const p = await pinned('pin-race');
      expect(p.mac).toBe(ra.pinnedMac);
      expect(p.cfg).toContain(`mac=${p.mac}`);
      expect(p.xml).toContain(`<mac address="${p.mac}"/>`);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('refuses to pin the 00:00:00:00:00:00 that libvirt reports for a vif without a MAC', async () => {
    const h = new LibvirtHypervisor('test:///default');
    await h.createXml(
      "<domain type='test'><name>pin-zero</name><memory>65536</memory><os><type>hvm</type></os><devices><interface type='bridge'><mac address='00:00:00:00:00:00'/><source bridge='xenbr0'/></interface></devices></domain>",
    );
    try {
      const err = await readLiveMac(h, 'pin-zero', { waitMs: 300, intervalMs: 100 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HypervisorError);
      expect((err as Error).message).toContain('00:00:00:00:00:00');
      expect((err as HypervisorError).hint).toContain('xenroot mac pin-zero --set');
    } finally {
      await h.destroy('pin-zero');
      await h.close();
    }
  });

  it('judges MACs read back from a hypervisor: zero, multicast, broadcast and garbage are unpinnable', () => {
    expect(unpinnableReason('52:54:00:12:34:56')).toBeUndefined();
    expect(unpinnableReason('00:16:3E:AA:BB:CC')).toBeUndefined();
    expect(unpinnableReason('00:00:00:00:00:00')).toMatch(/00:00:00:00:00:00/);
    expect(unpinnableReason('01:00:5e:00:00:01')).toMatch(/multicast/);
    expect(unpinnableReason('ff:ff:ff:ff:ff:ff')).toMatch(/multicast/);
    expect(unpinnableReason('')).toMatch(/no MAC/);
    expect(unpinnableReason('52:54:00:12:34')).toMatch(/not a MAC/);
  });
});

describe('start, stop and status on test:///default', () => {
  it('refuses to start a running guest with already-running and a hint', async () => {
    await fx.addGuest('life-a', { mac: '00:16:3e:00:00:0a' });
    const r = await startGuest(fx.file, 'life-a');
    expect(r).toMatchObject({ pin: 'already-pinned', mac: '00:16:3e:00:00:0a' });
    const err = await startGuest(fx.file, 'life-a').catch((e: unknown) => e);
    expect((err as { reason?: string }).reason).toBe('already-running');
    expect((err as HypervisorError).hint).toContain('xenroot console life-a');
    await stopGuest(fx.file, 'life-a', { force: true });
  });

  it('stopping a guest that is not running is not an error', async () => {
    await fx.addGuest('life-b');
    expect(await stopGuest(fx.file, 'life-b')).toMatchObject({ how: 'not-running', before: 'undefined' });
  });

  it('status shows state, live MACs and the pinned MAC of every guest', async () => {
    await fx.addGuest('life-c');
    await startGuest(fx.file, 'life-c');
    const rows = await guestStatus(fx.file);
    const c = rows.find((r) => r.name === 'life-c');
    expect(c?.state).toBe('running');
    expect(c?.macSource).toBe('first-boot');
    expect(c?.liveMacs).toEqual([c?.pinnedMac]);
    expect(rows.find((r) => r.name === 'life-b')).toMatchObject({ state: 'undefined', pinnedMac: undefined, liveMacs: undefined });
    await stopGuest(fx.file, 'life-c', { force: true });
  });

  it('status marks the guests of an unreachable host instead of failing, and fails for one named guest', async () => {
    const other = inventoryFixture({ connect: `qemu:///system?socket=${join(fx.dir, 'no-daemon.sock')}` });
    try {
      await other.addGuest('far');
      const rows = await guestStatus(other.file);
      expect(rows).toEqual([expect.objectContaining({ name: 'far', state: 'unreachable', error: expect.stringContaining('no-daemon.sock') })]);
      await expect(guestStatus(other.file, 'far')).rejects.toThrow(HypervisorError);
      await expect(startGuest(other.file, 'far')).rejects.toThrow(/no-daemon\.sock/);
    } finally {
      other.cleanup();
    }
  });

  it('--connect overrides the site and derives the Xen PV flavour from a xen:// URI (test driver reading Xen XML)', async () => {
    await fx.addGuest('life-x');
    const inv = await loadInventory(fx.file);
    expect(inv.data.site.connect).toBe('test:///default');
    // The test driver accepts <domain type='xen'> and reports its NIC: the Xen PV XML boots there too.
    const r = await startGuest(fx.file, 'life-x', { connect: 'test:///default', target: 'xen' });
    expect(r.target).toBe('xen');
    expect(r.pin).toBe('pinned');
    await stopGuest(fx.file, 'life-x', { force: true });
  });
});

describe('start reads the guest under the lock where it writes', () => {
  it('an edit saved while start waits for the inventory lock is what the started domain and its files get', async () => {
    await fx.addGuest('lock-a', { memory: 256 });
    let started: Promise<unknown> | undefined;
    // Hold the inventory lock, start the guest meanwhile, then change its memory before letting go:
    // a start that read the inventory before taking the lock would boot the old 256 MiB.
    await updateInventory(fx.file, async (inv) => {
      started = startGuest(fx.file, 'lock-a');
      // Whatever start does before it needs the lock has time to happen.
      await new Promise((r) => setTimeout(r, 500));
      inv.set(['guests', 'lock-a', 'memory'], 384);
    });
    await started;
    const live = await keepalive.liveDescription('lock-a');
    expect(live).toMatch(/<memory unit=["']KiB["']>393216<\/memory>/);
    expect(readFileSync(join(fx.guestDir, 'lock-a.cfg'), 'utf8')).toMatch(/memory\s*=\s*384/);
  });
});
