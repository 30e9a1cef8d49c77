/**
 * Shared fixture: a real Debian kernel and the tiny busybox image, built once per machine into the
 * cache (.cache/ or $XENROOT_CACHE) and reused by every test file and run.
 */
import { join } from 'node:path';
import { cacheDir, prepareKernel, type DebianKernel } from '../../src/image/debian.js';
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
