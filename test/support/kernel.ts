/**
 * Shared fixture: a real Debian kernel and the tiny busybox image, built once per machine into the
 * cache (.cache/ or $XENROOT_CACHE) and reused by every test file and run.
 */
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { cacheDir, prepareKernel, withCacheLock, type DebianKernel } from '../../src/image/debian.js';
import { buildTinyImage, DEFAULT_MARKER, TINY_VERSION } from '../../src/image/tiny.js';
import { loadModuleIndex, resolveModules } from '../../src/initrd/modules.js';
import { targetModules } from '../../src/initrd/targets.js';
import { writeCpio } from '../../src/initrd/cpio.js';
import { linkTree } from '../../src/sys/link-tree.js';

let kernel: Promise<DebianKernel> | undefined;

/** The Debian kernel (linux-image-amd64's versioned package), extracted and depmod'ed. */
export function testKernel(): Promise<DebianKernel> {
  kernel ??= prepareKernel();
  return kernel;
}

export interface TinyFixture {
  kernel: DebianKernel;
  /** The tiny image directory (read-only for tests: copy it before changing anything). */
  imageDir: string;
  marker: string;
}

let tiny: Promise<TinyFixture> | undefined;

/** The tiny image for the test kernel, marker XENROOT-READY, in the cache. */
export function tinyImage(): Promise<TinyFixture> {
  tiny ??= (async () => {
    const k = await testKernel();
    const imageDir = await buildTinyImage({ dir: join(cacheDir(), 'images', `tiny-${k.kver}-v${TINY_VERSION}`), kernel: k });
    return { kernel: k, imageDir, marker: DEFAULT_MARKER };
  })();
  return tiny;
}

let itools: Promise<string> | undefined;

/**
 * A Debian bookworm minbase image with initramfs-tools (mmdebstrap, from this machine's apt
 * sources) plus the test kernel's modules and config: the image for chroot builder tests. Built
 * once per machine into the cache (about 100 s), reused after.
 */
export function initramfsToolsImage(): Promise<string> {
  itools ??= (async () => {
    const k = await testKernel();
    const dir = join(cacheDir(), 'images', `bookworm-initramfs-tools-${k.kver}`);
    return withCacheLock(cacheDir(), 'itools-image', async () => {
      if (existsSync(join(dir, '.xenroot-image'))) return dir;
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      try {
        await execa('mmdebstrap', ['--variant=minbase', '--mode=root', '--format=directory', '--include=initramfs-tools,busybox,kmod', 'bookworm', tmp]);
        await mkdir(join(tmp, 'lib/modules'), { recursive: true });
        await linkTree(k.modulesDir, join(tmp, 'lib/modules', k.kver));
        await copyFile(join(k.root, 'boot', `config-${k.kver}`), join(tmp, 'boot', `config-${k.kver}`));
        await writeFile(join(tmp, '.xenroot-image'), `${k.kver}\n`);
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return dir;
    });
  })();
  return itools;
}

/**
 * A small copy of the tiny image (busybox, init, the kernel in /boot, only the modules the given
 * initrd targets need, depmod'ed) in `dir`: small enough to become an ext4 loop image file in a
 * second (the full module tree is 400 MB).
 */
export async function smallTinyTree(dir: string, targets: ('xen' | 'qemu' | 'pxe')[]): Promise<{ kver: string }> {
  const fx = await tinyImage();
  const kver = fx.kernel.kver;
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(fx.imageDir)) {
    if (entry === 'lib') continue;
    await cp(join(fx.imageDir, entry), join(dir, entry), { recursive: true, verbatimSymlinks: true });
  }
  const src = join(fx.imageDir, 'lib/modules', kver);
  const dst = join(dir, 'lib/modules', kver);
  const index = await loadModuleIndex(src);
  const wanted = new Set(targets.flatMap((t) => resolveModules(index, targetModules(t)).modules.map((m) => m.path)));
  for (const path of wanted) {
    await mkdir(dirname(join(dst, path)), { recursive: true });
    await cp(join(src, path), join(dst, path));
  }
  await cp(join(src, 'modules.builtin'), join(dst, 'modules.builtin'));
  await execa('depmod', ['-b', dir, kver]);
  return { kver };
}

/**
 * The boot files of a PXE test that stops once the kernel has printed its command line: under
 * `dir`, an empty image directory `img/` and `boot/terminal/` with the test kernel and a
 * placeholder initrd (any initrd will do), named as `xenroot sync` looks for them (image
 * `terminal`, kernel `k.kver`, target pxe).
 */
export async function stageKernelOnlyBoot(dir: string, k: { kver: string; vmlinuz: string }): Promise<void> {
  const boot = join(dir, 'boot/terminal');
  await mkdir(boot, { recursive: true });
  await mkdir(join(dir, 'img'));
  await copyFile(k.vmlinuz, join(boot, `vmlinuz-${k.kver}`));
  await writeFile(join(boot, `initrd-${k.kver}-pxe.img`), gzipSync(writeCpio([{ type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }])));
}
