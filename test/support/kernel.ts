/**
 * Shared fixture: a real Debian kernel and the tiny busybox image, built once per machine into the
 * cache (.cache/ or $XENROOT_CACHE) and reused by every test file and run.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, prepareKernel, withCacheLock, type DebianKernel } from '../../src/image/debian.js';
import { buildTinyImage, DEFAULT_MARKER } from '../../src/image/tiny.js';

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
    const imageDir = await buildTinyImage({ dir: join(cacheDir(), 'images', `tiny-${k.kver}`), kernel: k });
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
        await execa('cp', ['-al', k.modulesDir, join(tmp, 'lib/modules', k.kver)]);
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
