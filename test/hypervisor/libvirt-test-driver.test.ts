// The libvirt driver against libvirt's own test driver (test:///default, in-process, no daemon).
// test:///default is shared by every connection of one process: each test uses its own names.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HypervisorError, TimeoutError, UsageError } from '../../src/sys/errors.js';
import { hypervisorFor, resolveUri } from '../../src/hypervisor/connect.js';
import { HypervisorCallError, classifyHypervisorMessage } from '../../src/hypervisor/errors.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt.js';
import { interfacesFromDomainXml, nameFromDomainXml, uuidFromDomainXml } from '../../src/hypervisor/xml.js';
import { targetForUri } from '../../src/hypervisor/types.js';
import { guestSpec } from '../../src/render/guest-spec.js';
import { inventory } from '../support/model.js';

const domainXml = (name: string, mac?: string): string => `<domain type='test'>
  <name>${name}</name>
  <memory unit='KiB'>65536</memory>
  <os><type>hvm</type></os>
  <devices>
    <interface type='network'>${mac ? `<mac address='${mac}'/>` : ''}<source network='default'/></interface>
  </devices>
</domain>`;

describe('libvirt driver on test:///default', () => {
  const h = new LibvirtHypervisor('test:///default');
  beforeAll(() => h.connect());
  afterAll(() => h.close());

  it('defines, starts, reports state and the live MAC libvirt generated, then destroys and undefines', async () => {
    expect(await h.defineXml(domainXml('drv-a'))).toBe('drv-a');
    expect(await h.state('drv-a')).toBe('shutoff');
    await h.start('drv-a');
    expect(await h.state('drv-a')).toBe('running');
    const [nic] = await h.interfaces('drv-a');
    expect(nic?.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    const listed = (await h.list()).find((d) => d.name === 'drv-a');
    expect(listed).toMatchObject({ state: 'running', persistent: true });
    expect(listed?.id).toBeGreaterThan(0);
    await h.destroy('drv-a');
    expect(await h.state('drv-a')).toBe('shutoff');
    await h.undefine('drv-a');
    expect(await h.state('drv-a')).toBe('undefined');
    expect(await h.exists('drv-a')).toBe(false);
  });

  it('keeps a MAC given in the XML', async () => {
    await h.createXml(domainXml('drv-b', '00:16:3e:01:02:03'));
    expect((await h.interfaces('drv-b')).map((i) => i.mac)).toEqual(['00:16:3e:01:02:03']);
    expect((await h.list()).find((d) => d.name === 'drv-b')?.persistent).toBe(false);
    await h.destroy('drv-b');
  });

  it('maps "Domain not found" to a no-such-domain HypervisorError with a hint', async () => {
    const err = await h.start('drv-missing').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypervisorCallError);
    expect(err).toBeInstanceOf(HypervisorError);
    expect((err as HypervisorCallError).reason).toBe('no-such-domain');
    expect((err as HypervisorCallError).message).toContain("'drv-missing'");
    expect((err as HypervisorCallError).hint).toContain('xenroot define drv-missing');
  });

  it('maps starting a running domain to already-running and a duplicate name to already-exists', async () => {
    await h.defineXml(domainXml('drv-c'));
    await h.start('drv-c');
    const again = await h.start('drv-c').catch((e: unknown) => e);
    expect((again as HypervisorCallError).reason).toBe('already-running');
    expect((again as HypervisorCallError).hint).toContain('xenroot stop drv-c');
    const dup = await h.createXml(domainXml('drv-c')).catch((e: unknown) => e);
    expect((dup as HypervisorCallError).reason).toBe('already-exists');
    await h.destroy('drv-c');
    const stopped = await h.destroy('drv-c').catch((e: unknown) => e);
    expect((stopped as HypervisorCallError).reason).toBe('not-running');
    await h.undefine('drv-c');
  });
});

describe('libvirt connection failures', () => {
  let dir: string;
  let silent: Server;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenroot-hv-'));
    // A real socket that accepts connections and never says a word: a hung libvirtd.
    silent = createServer((c) => void accepted.push(c));
    await new Promise<void>((resolve) => silent.listen(join(dir, 'silent.sock'), resolve));
  });
  afterAll(async () => {
    for (const c of accepted) c.destroy(); // lets the abandoned native connect attempt finish
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a socket path with nothing behind it as unreachable, with a hint naming the URI', async () => {
    const uri = `qemu:///system?socket=${join(dir, 'nothing.sock')}`;
    const err = await new LibvirtHypervisor(uri).connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypervisorCallError);
    expect((err as HypervisorCallError).reason).toBe('unreachable');
    expect((err as HypervisorCallError).message).toContain('nothing.sock');
    expect((err as HypervisorCallError).hint).toMatch(/libvirtd .*running/);
  });

  it('gives up on a libvirtd that accepts but never answers with a TimeoutError at the connect timeout', async () => {
    const uri = `qemu:///system?socket=${join(dir, 'silent.sock')}`;
    const err = await new LibvirtHypervisor(uri, { connectTimeoutMs: 1_000 }).connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toContain('did not answer within 1 s');
  });

  it('redefines a defined domain under its existing UUID (the renderer writes it, the driver reads it back)', async () => {
    const h = new LibvirtHypervisor('test:///default');
    try {
      const spec = guestSpec(inventory({ guests: { 'drv-uuid': { image: 'terminal' } } }), 'drv-uuid', 'qemu');
      const guest = { spec, target: 'qemu' as const, files: { cfg: '/nonexistent/drv-uuid.cfg' } };
      await h.define(guest);
      const uuid = uuidFromDomainXml(await h.definedDescription('drv-uuid'));
      expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
      await h.define({ ...guest, spec: { ...spec, memory: 128, maxmem: 128 } });
      expect(uuidFromDomainXml(await h.definedDescription('drv-uuid'))).toBe(uuid);
      expect(await h.definedDescription('drv-uuid')).toContain('<memory unit=\'KiB\'>131072</memory>');
      await h.undefine('drv-uuid');
    } finally {
      await h.close();
    }
  });

  it('reports an unknown URI scheme as unsupported', async () => {
    const err = await new LibvirtHypervisor('bogus:///x').connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HypervisorError);
  });
});

describe('URIs and message classification', () => {
  it('resolves --connect over XENROOT_CONNECT over the guest over the site default', () => {
    expect(resolveUri({ flag: 'qemu:///system', guest: 'xen:///system' }, { XENROOT_CONNECT: 'test:///default' })).toBe('qemu:///system');
    expect(resolveUri({ guest: 'xen:///system' }, { XENROOT_CONNECT: 'test:///default' })).toBe('test:///default');
    expect(resolveUri({ guest: 'xen+ssh://host1/system', site: 'qemu:///system' }, {})).toBe('xen+ssh://host1/system');
    expect(resolveUri({ site: 'qemu:///system' }, {})).toBe('qemu:///system');
    expect(resolveUri({}, {})).toBe('xen:///system');
    expect(() => resolveUri({ flag: 'not a uri' }, {})).toThrow(UsageError);
  });

  it('derives the domain flavour from the URI scheme', () => {
    expect(targetForUri('xen:///system')).toBe('xen');
    expect(targetForUri('xen+ssh://h/system')).toBe('xen');
    expect(targetForUri('xen+tcp://127.0.0.1:16509/system')).toBe('xen');
    expect(targetForUri('qemu:///system')).toBe('qemu');
    expect(targetForUri('test:///default')).toBe('qemu');
    expect(hypervisorFor('xl://').capabilities).toEqual({ persistentDefinitions: false, defaultTarget: 'xen' });
    expect(hypervisorFor('test:///default').capabilities).toEqual({ persistentDefinitions: true, defaultTarget: 'qemu' });
    expect(hypervisorFor('xen+tcp://127.0.0.1:16509/system').capabilities).toEqual({ persistentDefinitions: true, defaultTarget: 'xen' });
  });

  it('classifies libvirt messages seen on this machine', () => {
    expect(classifyHypervisorMessage("Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory")).toBe('unreachable');
    expect(classifyHypervisorMessage("unable to connect to server at '127.0.0.1:1': Connection refused")).toBe('unreachable');
    expect(classifyHypervisorMessage("internal error: Domain 'p1' is already running")).toBe('already-running');
    expect(classifyHypervisorMessage('Requested operation is not valid: domain is not running')).toBe('not-running');
    expect(classifyHypervisorMessage("operation failed: domain 'test' already exists with uuid 6695eb01")).toBe('already-exists');
    expect(classifyHypervisorMessage('authentication failed: access denied by policy')).toBe('permission');
    expect(classifyHypervisorMessage('xl: terminal is an invalid domain identifier (rc=-6)')).toBe('no-such-domain');
  });

  it('reads MACs, sources and targets out of domain XML, with "" for a NIC without <mac>', () => {
    const xml = `<domain type='xen'><name>x</name><devices>
      <interface type='bridge'><mac address='00:16:3E:AA:BB:CC'/><source bridge='xenbr0'/><target dev='vif3.0'/></interface>
      <interface type='bridge'><source bridge='xenbr1'/></interface></devices></domain>`;
    expect(interfacesFromDomainXml(xml)).toEqual([
      { mac: '00:16:3e:aa:bb:cc', source: 'xenbr0', target: 'vif3.0' },
      { mac: '', source: 'xenbr1', target: undefined },
    ]);
  });

  it('reads self-closing interfaces, entities, comments and both quote styles out of domain XML', () => {
    const xml = `<?xml version="1.0"?>\n<domain type="kvm"><name>a&amp;b</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><devices>
      <!-- <interface type='bridge'><mac address='00:00:00:00:00:01'/></interface> -->
      <interface type='user'/>
      <interface type="network"><mac address="52:54:00:AA:00:01"/><source network="default"/></interface></devices></domain>`;
    expect(nameFromDomainXml(xml)).toBe('a&b');
    expect(uuidFromDomainXml(xml)).toBe('6695eb01-f6a4-8304-79aa-97f2502e193f');
    expect(interfacesFromDomainXml(xml)).toEqual([
      { mac: '', source: undefined, target: undefined },
      { mac: '52:54:00:aa:00:01', source: 'default', target: undefined },
    ]);

  });
});
