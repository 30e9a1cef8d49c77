/**
 * The built-in builder on a real Debian kernel and the tiny busybox image (test/support/kernel.ts,
 * cached under .cache/): what goes into each target's initrd, reproducibility, compressed modules
 * and a missing busybox.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyError, InitrdError } from '../../src/sys/errors.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { listInitrd, listInitrdBuffer } from '../../src/initrd/ls.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { linkFile } from '../support/tree.js';
import { linkTree } from '../../src/sys/link-tree.js';

let fx: TinyFixture;
let work: string;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-test-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

describe('built-in initrd', () => {
  it('xen target: ls lists xen-netfront and the NFS modules, with the init and a static busybox', async () => {
    const out = join(work, 'xen.gz');
    const r = await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'xen', out });
    const l = await listInitrd(out);
    expect(l.segments.map((s) => s.compression)).toEqual(['gzip']);
    expect(l.kvers).toEqual([fx.kernel.kver]);
    expect(l.xennet).toEqual({ present: true, how: 'module' });
    expect(l.nfs.present).toBe(true);
    expect(l.nfs.versions).toEqual(['v3', 'v4']);
    for (const m of ['xen_netfront', 'sunrpc', 'lockd', 'grace', 'nfs', 'nfsv3', 'nfsv4', 'nfs_acl', 'auth_rpcgss', 'dns_resolver', 'overlay']) {
      expect(l.modules).toContain(m);
    }
    expect(l.virtioNet.present).toBe(false);
    const paths = l.members.map((m) => m.path);
    expect(paths).toContain('init');
    expect(paths).toContain('bin/busybox');
    expect(paths).toContain('dev/console');
    expect(r.busybox.from).toBe('image');
    // Load order: each module after what modules.dep says it needs.
    expect(r.modules.indexOf('sunrpc')).toBeLessThan(r.modules.indexOf('nfs'));
    expect(r.modules.indexOf('nfs')).toBeLessThan(r.modules.indexOf('nfsv4'));
  });

  it('qemu target: ls lists virtio_net (and virtio_pci), no xen-netfront', async () => {
    const out = join(work, 'qemu.gz');
    await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'qemu', out });
    const l = await listInitrd(out);
    expect(l.virtioNet).toEqual({ present: true, how: 'module' });
    expect(l.modules).toContain('virtio_pci');
    expect(l.xennet.present).toBe(false);
  });

  it('pxe target carries the default physical NIC drivers, or the list given', async () => {
    const def = await listInitrd((await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'pxe', out: join(work, 'pxe.gz') })).path);
    for (const m of ['e1000', 'e1000e', 'igb', 'r8169', 'tg3', 'bnx2', 'virtio_net']) expect(def.modules).toContain(m);
    const one = await listInitrd((await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'pxe', nics: ['e1000'], out: join(work, 'pxe1.gz') })).path);
    expect(one.modules).toContain('e1000');
    expect(one.modules).not.toContain('igb');
  });

  it('two builds of the same target give the same sha256', async () => {
    const a = await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'xen', out: join(work, 'a.gz') });
    const b = await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'xen', out: join(work, 'b.gz') });
    expect(a.sha256).toBe(b.sha256);
    expect(await sha(a.path)).toBe(await sha(b.path));
  });

  it('an unknown module or kernel version is an InitrdError naming it', async () => {
    await expect(buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'pxe', nics: ['nosuchnic'], out: join(work, 'x.gz') })).rejects.toThrow(/module nosuchnic/);
    await expect(buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'xen', kver: '9.9.9', out: join(work, 'x.gz') })).rejects.toThrow(InitrdError);
  });
});

describe('built-in initrd from an image with compressed modules', () => {
  it('decompresses .ko.xz and .ko.zst modules at build time', async () => {
    // An image whose modules are compressed the way Fedora/Arch/newer Debian ship them.
    const img = join(work, 'zimg');
    const kver = fx.kernel.kver;
    const src = join(fx.imageDir, 'lib/modules', kver);
    const dst = join(img, 'lib/modules', kver);
    await mkdir(join(img, 'bin'), { recursive: true });
    await linkFile(join(fx.imageDir, 'bin/busybox'), join(img, 'bin/busybox')); // a hard link or copy: a symlink out of the image is not followed
    await cp(src, dst, { recursive: true, filter: (s) => !s.endsWith('.ko') || /\/(fs|net|drivers\/net|drivers\/virtio)\//.test(s) });
    const nfs = join(dst, 'kernel/fs/nfs/nfs.ko');
    const sunrpc = join(dst, 'kernel/net/sunrpc/sunrpc.ko');
    const plainNfs = await readFile(nfs);
    await execa('xz', ['--check=crc32', nfs]);
    await execa('zstd', ['-q', '--rm', sunrpc]);
    await execa('depmod', ['-b', img, kver]);
    const r = await buildBuiltinInitrd({ imageRoot: img, target: 'qemu', out: join(work, 'z.gz') });
    expect(r.modules).toContain('nfs');
    const l = await listInitrdBuffer(await readFile(r.path));
    const stored = l.members.filter((m) => /kernel\/(fs\/nfs\/nfs|net\/sunrpc\/sunrpc)\.ko/.test(m.path)).map((m) => m.path);
    expect(stored.sort()).toEqual([`lib/modules/${kver}/kernel/fs/nfs/nfs.ko`, `lib/modules/${kver}/kernel/net/sunrpc/sunrpc.ko`]);
    expect(l.members.find((m) => m.path.endsWith('fs/nfs/nfs.ko'))?.size).toBe(plainNfs.length);
    await rm(img, { recursive: true, force: true });
  });
});

describe('busybox', () => {
  it('with no busybox in the image and none on the host, the build fails with DependencyError naming busybox-static', async () => {
    const img = join(work, 'nobusybox');
    await mkdir(join(img, 'lib/modules'), { recursive: true });
    await linkTree(join(fx.imageDir, 'lib/modules', fx.kernel.kver), join(img, 'lib/modules', fx.kernel.kver));
    // hostBusybox: [] stands for a host without busybox-static (it is installed on this machine).
    const err = await buildBuiltinInitrd({ imageRoot: img, target: 'xen', hostBusybox: [], out: join(work, 'nb.gz') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).hint).toMatch(/busybox-static/);
  });

  it('a dynamically linked busybox in the image is passed over for the host\'s static one', async () => {
    const img = join(work, 'dynbusybox');
    await mkdir(join(img, 'bin'), { recursive: true });
    await mkdir(join(img, 'lib/modules'), { recursive: true });
    await linkTree(join(fx.imageDir, 'lib/modules', fx.kernel.kver), join(img, 'lib/modules', fx.kernel.kver));
    await cp('/bin/ls', join(img, 'bin/busybox')); // a dynamic ELF standing in for a dynamic busybox
    const r = await buildBuiltinInitrd({ imageRoot: img, target: 'xen', out: join(work, 'dyn.gz') });
    expect(r.busybox.from).toBe('host');
    expect((await readdir(img)).sort()).toEqual(['bin', 'lib']);
  });
});
