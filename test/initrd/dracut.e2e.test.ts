/**
 * The distro builders. dracut runs for real on the host (the tiny image has no dracut, so the host
 * mode with --kmoddir is what applies); initramfs-tools and mkinitrd are checked for the clear
 * error an image without them gives.
 */
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InitrdError } from '../../src/sys/errors.js';
import { buildDistroInitrd, dracutArgs, initramfsToolsConfig, mkinitrdArgs } from '../../src/initrd/distro.js';
import { listInitrd } from '../../src/initrd/ls.js';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { bootQemu, stopAllQemu } from '../support/qemu.js';

let fx: TinyFixture;
let work: string;
let dracutXen: string | undefined;
let nfs: NfsServer | undefined;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-dracut-test-'));
});

afterAll(async () => {
  await stopAllQemu();
  await nfs?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('dracut', () => {
  it('--target xen from a directory image gives an initrd that contains xen-netfront and NFS (checked with ls)', async () => {
    const before = (await readdir(fx.imageDir)).sort();
    // Uncompressed to keep CI short; compressed listings are covered by test/initrd/ls.test.ts.
    const r = await buildDistroInitrd({ builder: 'dracut', root: fx.imageDir, kver: fx.kernel.kver, target: 'xen', compress: false, out: join(work, 'dracut-xen.img') });
    expect(r.mode).toBe('host');
    const l = await listInitrd(r.path);
    expect(l.xennet).toEqual({ present: true, how: 'module' });
    expect(l.nfs.present).toBe(true);
    expect(l.nfs.versions).toContain('v4');
    expect(l.kvers).toContain(fx.kernel.kver);
    expect(l.members.some((m) => m.path.endsWith('modules.d/95nfs') || /95nfs/.test(m.path) || m.path.endsWith('nfs-lib.sh'))).toBe(true);
    // The image was only read.
    expect((await readdir(fx.imageDir)).sort()).toEqual(before);
    dracutXen = r.path;
  });

  it('that initrd boots the tiny image in QEMU (e1000 NIC) over NFSv4 with the cmdline contract (root=nfs4:... ip=dhcp rd.neednet=1)', { timeout: 330_000 }, async () => {
    // --no-hostonly with network-legacy carries every drivers/net NIC driver (e1000 too; virtio_pci
    // is not a NIC driver, so the xen-target dracut initrd cannot boot a virtio NIC). dracut under
    // TCG takes 20-100 s to reach the root (udev, dhclient, arping), hence the long timeout.
    expect(dracutXen).toBeDefined();
    nfs = await startNfsServer({ exports: [{ path: fx.imageDir }] });
    const vm = await bootQemu({
      kernel: fx.kernel.vmlinuz, initrd: dracutXen!, nic: 'e1000',
      append: `console=ttyS0 quiet panic=-1 root=nfs4:10.0.2.2:/export:port=${nfs.port} ip=dhcp rd.neednet=1 ro selinux=0`,
    });
    try {
      await vm.waitFor(new RegExp(fx.marker), 300_000);
    } finally {
      await vm.stop();
    }
    expect(vm.console()).toMatch(/xenroot-root: 10\.0\.2\.2:\/export \/\S* nfs4 /);
  });

  it('always adds xen-netfront for the xen target, the target NICs otherwise (arguments)', () => {
    const xen = dracutArgs({ kver: 'K', target: 'xen', out: '/o' });
    expect(xen).toContain('--no-hostonly');
    expect(xen[xen.indexOf('--add-drivers') + 1]).toMatch(/^xen-netfront /);
    expect(xen.slice(-2)).toEqual(['/o', 'K']);
    const pxe = dracutArgs({ kver: 'K', target: 'pxe', nics: ['igb'], out: '/o' });
    expect(pxe[pxe.indexOf('--add-drivers') + 1]).toMatch(/^igb /);
    expect(pxe[pxe.indexOf('-m') + 1]).toBe('base network-legacy nfs');
  });
});

describe('initramfs-tools and mkinitrd', () => {
  it('initramfs-tools config is BOOT=xenroot (xenroot\'s boot script), MODULES=netboot plus xen-netfront; mkinitrd gets --rootfs=nfs --with=xen-netfront', () => {
    const c = initramfsToolsConfig('xen');
    expect(c.conf).toMatch(/^BOOT=xenroot$/m);
    expect(c.conf).toMatch(/^MODULES=netboot$/m);
    expect(c.modules.split('\n')).toContain('xen-netfront');
    const a = mkinitrdArgs({ kver: 'K', target: 'xen', out: '/o', nfsRoot: '10.0.2.2:/export' });
    expect(a).toContain('--rootfs=nfs');
    expect(a).toContain('--rootdev=10.0.2.2:/export');
    expect(a).toContain('--with=xen-netfront');
  });

  it('an image without the tool is a clear InitrdError, before anything is mounted or run', async () => {
    for (const builder of ['initramfs-tools', 'mkinitrd'] as const) {
      const err = await buildDistroInitrd({ builder, root: fx.imageDir, kver: fx.kernel.kver, target: 'xen', out: join(work, 'x.img') }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InitrdError);
      expect((err as Error).message).toMatch(/has no (mkinitramfs|mkinitrd)/);
    }
  });
});
