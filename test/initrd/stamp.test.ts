/**
 * Staged boot files are keyed by what made them (issue 11): one file per builder, and a staged
 * initrd is reused only when its stamp (builder, target, kernel, image content, recipe, its own
 * sha256) still holds.
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootFiles } from '../../src/inventory/paths.js';
import { imageFingerprint, stampHolds, stampPath, writeStamp } from '../../src/initrd/stamp.js';
import { sha256File } from '../../src/sys/hash.js';
import { distroRecipe } from '../../src/initrd/distro.js';
import { SiteSchema } from '../../src/inventory/schema.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-stamp-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('staged boot files', () => {
  const site = SiteSchema.parse({ nfsServer: '10.0.2.2', bootDir: '/b' });
  const image = { root: '/srv/img', kver: '6.1.0-1-amd64' };

  it('two builders never share an initrd file; the built-in keeps the plain name; the kernel is one file', () => {
    const names = (['builtin', 'dracut', 'initramfs-tools', 'mkinitrd'] as const).map((b) => bootFiles(site, 'img', image, 'qemu', b).initrd);
    expect(new Set(names).size).toBe(4);
    expect(names[0]).toBe('/b/img/initrd-6.1.0-1-amd64-qemu.img');
    expect(names[2]).toBe('/b/img/initrd-6.1.0-1-amd64-qemu-initramfs-tools.img');
    expect(bootFiles(site, 'img', { ...image, initrdBuilder: 'dracut' }, 'xen').initrd).toBe('/b/img/initrd-6.1.0-1-amd64-xen-dracut.img');
    expect(bootFiles(site, 'img', image, 'qemu', 'dracut').kernel).toBe(bootFiles(site, 'img', image, 'qemu').kernel);
  });

  it('a stamp holds only for the same builder, target, kernel, image and recipe, and for the file it describes', async () => {
    const initrd = join(dir, 'initrd-K-qemu-dracut.img');
    await writeFile(initrd, 'initrd bytes');
    const want = { builder: 'dracut' as const, target: 'qemu' as const, kver: 'K', kernelSha256: 'k1', image: 'i1', recipe: await distroRecipe('dracut', 'qemu') };
    await writeStamp(initrd, { ...want, sha256: await sha256File(initrd), built: new Date().toISOString() });
    expect(stampPath(initrd)).toBe(join(dir, '.initrd-K-qemu-dracut.img.stamp'));
    expect(await stampHolds(initrd, want)).toBeTruthy();
    expect(await stampHolds(initrd, { ...want, builder: 'initramfs-tools' })).toBeUndefined();
    expect(await stampHolds(initrd, { ...want, kernelSha256: 'k2' })).toBeUndefined();
    expect(await stampHolds(initrd, { ...want, image: 'i2' })).toBeUndefined();
    expect(await stampHolds(initrd, { ...want, target: 'xen' })).toBeUndefined();
    expect(await stampHolds(initrd, { ...want, recipe: await distroRecipe('dracut', 'pxe') })).toBeUndefined();
    // Another file under the same name (e.g. copied in by hand) is not the stamped one.
    await writeFile(initrd, 'other bytes');
    expect(await stampHolds(initrd, want)).toBeUndefined();
  });

  it('the image fingerprint changes when a package, a module or the builder config in the image changes', async () => {
    const img = join(dir, 'img');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(img, 'var/lib/dpkg'), { recursive: true });
    await mkdir(join(img, 'lib/modules/K'), { recursive: true });
    await mkdir(join(img, 'etc/initramfs-tools/conf.d'), { recursive: true });
    await writeFile(join(img, 'var/lib/dpkg/status'), 'Package: a\n');
    await writeFile(join(img, 'lib/modules/K/modules.dep'), 'a.ko:\n');
    const f0 = await imageFingerprint({ dir: img }, 'K');
    expect(await imageFingerprint({ dir: img }, 'K')).toBe(f0);
    await writeFile(join(img, 'var/lib/dpkg/status'), 'Package: a\nPackage: b\n');
    const f1 = await imageFingerprint({ dir: img }, 'K');
    expect(f1).not.toBe(f0);
    await writeFile(join(img, 'etc/initramfs-tools/conf.d/x'), 'MODULES=dep\n');
    expect(await imageFingerprint({ dir: img }, 'K')).not.toBe(f1);
    const t = new Date('2020-01-01');
    await utimes(join(img, 'lib/modules/K/modules.dep'), t, t);
    expect(await imageFingerprint({ dir: img }, 'K2')).not.toBe(await imageFingerprint({ dir: img }, 'K'));
  });
});
