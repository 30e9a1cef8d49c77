/**
 * Shared fixture: a real Debian 12 systemd image made by `xenroot image bootstrap`'s own code
 * (src/image/bootstrap.ts: mmdebstrap minbase + systemd-sysv, udev, the kernel, initramfs-tools),
 * built once per machine into the cache (.cache/ or $XENROOT_CACHE) under a lock, like the dom0
 * image, and reused by every test file and run. Rebuilt when the recipe changes.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootstrapImage, bootstrapRecipeKey } from '../../src/image/bootstrap.js';
import { cacheDir, withCacheLock } from '../../src/image/debian.js';

export interface RealImageFixture {
  /** The image directory (read-only for tests). */
  dir: string;
  kver: string;
  /** Its host name: the login prompt reads `HOSTNAME login:`. */
  hostname: string;
  /** Seconds the build took when it was made (0 when it came from the cache). */
  buildSeconds: number;
}

const HOSTNAME = 'xenroot-real';

let real: Promise<RealImageFixture> | undefined;

export function realImage(): Promise<RealImageFixture> {
  real ??= (async () => {
    // Named by the recipe: any change to what bootstrap puts in an image makes a new cache entry.
    const dir = join(cacheDir(), 'images', `real-bookworm-${bootstrapRecipeKey('bookworm', HOSTNAME)}`);
    const stamp = join(dir, '.xenroot-real-image');
    return withCacheLock(cacheDir(), 'real-image', async () => {
      if (existsSync(stamp)) return { dir, kver: (await readFile(stamp, 'utf8')).trim(), hostname: HOSTNAME, buildSeconds: 0 };
      await rm(dir, { recursive: true, force: true });
      const r = await bootstrapImage({ dir, suite: 'bookworm', hostname: HOSTNAME });
      await writeFile(stamp, `${r.kver}\n`);
      console.log(`real image fixture: built in ${(r.ms / 1000).toFixed(1)} s (${dir})`);
      return { dir, kver: r.kver, hostname: HOSTNAME, buildSeconds: Math.round(r.ms / 1000) };
    });
  })();
  return real;
}
