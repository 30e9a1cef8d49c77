/**
 * Real boots: the tiny image served by nfs-ganesha (src/deploy/nfs-server.ts), the Debian kernel
 * with the built-in qemu-target initrd, QEMU (TCG) with user networking (test/support/qemu.ts;
 * the host's loopback is 10.0.2.2 to the guest). NFSv4 on 127.0.0.1; NFSv3 inside the network
 * namespace the NFS server makes for rpcbind. Every QEMU and ganesha is stopped by PID.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { bootQemu, stopAllQemu } from '../support/qemu.js';

let fx: TinyFixture;
let work: string;
let initrd: string;
const servers: NfsServer[] = [];

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-boot-'));
  initrd = (await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'qemu', out: join(work, 'initrd-qemu.gz') })).path;
});

afterEach(async () => {
  await stopAllQemu();
});

afterAll(async () => {
  await stopAllQemu();
  for (const s of servers) await s.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

let v4: NfsServer | undefined;
async function nfs4(): Promise<NfsServer> {
  if (!v4) {
    v4 = await startNfsServer({ exports: [{ path: fx.imageDir }] });
    servers.push(v4);
  }
  return v4;
}

/** Boots until `until` shows on the console (or the guest powers off); returns the console text. */
async function boot(append: string, until: RegExp, netns?: string): Promise<string> {
  const vm = await bootQemu({ kernel: fx.kernel.vmlinuz, initrd, append: `console=ttyS0 quiet panic=-1 ${append}`, mac: '52:54:00:12:34:56', ...(netns ? { netns } : {}) });
  try {
    await vm.waitFor(until, 150_000);
  } finally {
    await vm.stop();
  }
  return vm.console().replace(/\r/g, '');
}

describe('booting the tiny image with the built-in initrd', () => {
  it('NFSv4: reaches the marker with / on nfs4 (xenroot.overlay=0: tmpfs on /var and /tmp)', async () => {
    const nfs = await nfs4();
    const out = await boot(`root=nfs4:10.0.2.2:/export:port=${nfs.port} ip=dhcp ro xenroot.overlay=0 xenroot.marker=XENROOT-HANDOVER`, new RegExp(fx.marker));
    expect(out).toContain('xenroot-initrd: modules loaded');
    expect(out).toMatch(/xenroot-initrd: address 10\.0\.2\.\d+ on eth0/);
    expect(out).toContain('XENROOT-HANDOVER');
    expect(out).toMatch(/^xenroot-root: 10\.0\.2\.2:\/export \/ nfs4 ro,/m);
    expect(out).toMatch(/^xenroot-root: tmpfs \/var tmpfs/m);
  });

  it('NFSv4: reaches the marker on an overlay root whose lower layer is the export, taking DHCP on the BOOTIF NIC', async () => {
    const nfs = await nfs4();
    const out = await boot(`root=nfs4:10.0.2.2:/export:port=${nfs.port} ip=dhcp ro BOOTIF=01-52-54-00-12-34-56`, new RegExp(fx.marker));
    expect(out).toContain('xenroot-initrd: interface eth0 (52:54:00:12:34:56)');
    expect(out).toContain('xenroot-initrd: root: overlay (tmpfs upper) over nfs4');
    expect(out).toMatch(/^xenroot-root: overlay \/ overlay /m);
    expect(out).toMatch(/^xenroot-root: 10\.0\.2\.2:\/export \/run\/xenroot\/lower nfs4 ro,/m);
  });

  it('NFSv3: mounts the export path with nolock (rpcbind in the server\'s network namespace) and reaches the marker', async () => {
    const nfs = await startNfsServer({ exports: [{ path: fx.imageDir }], versions: [3], netns: true });
    servers.push(nfs);
    const out = await boot(`root=nfs:10.0.2.2:${fx.imageDir} ip=dhcp ro`, new RegExp(fx.marker), nfs.netns);
    expect(out).toMatch(/xenroot-initrd: mounting 10\.0\.2\.2:\S+ \(nfs, ro,addr=10\.0\.2\.2,vers=3,nolock,/);
    expect(out).toMatch(/^xenroot-root: 10\.0\.2\.2:\S+ \/run\/xenroot\/lower nfs ro,.*vers=3/m);
  });

  it('prints the failing step and powers off when the export does not exist', async () => {
    const nfs = await nfs4();
    const out = await boot(`root=nfs4:10.0.2.2:/nosuchexport:port=${nfs.port} ip=dhcp ro`, /xenroot-initrd: halting/);
    expect(out).toMatch(/xenroot-initrd: FAILED at nfs: mount -t nfs4 10\.0\.2\.2:\/nosuchexport failed/);
    expect(out).not.toContain(fx.marker);
  });
});
