/**
 * A tiny image for mount-session tests: the host's static busybox (Debian busybox-static) in a
 * directory with the mount points a chroot needs, /var/lock as a symlink to ../run/lock (as on
 * Debian), and the same tree as an ext4 loop image file. Built once per test file.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExt4Image } from '../../src/image/ext4.js';
import { resourcesUnder } from '../support/leaks.js';

export interface BusyboxImage {
  /** Scratch directory of the test file (session mount dirs go under base/mnt). */
  base: string;
  dir: string;
  file: string;
  mnt: string;
  cleanup(): Promise<void>;
}

export async function makeBusyboxDir(dir: string, withMountPoints = true): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  await symlink('busybox', join(dir, 'bin/sh'));
  for (const d of ['etc', 'run/lock', 'var', 'root']) await mkdir(join(dir, d), { recursive: true });
  if (withMountPoints) for (const d of ['tmp', 'dev', 'proc', 'sys']) await mkdir(join(dir, d));
  await symlink('../run/lock', join(dir, 'var/lock'));
  await writeFile(join(dir, 'etc/marker'), 'xenroot test image\n');
}

export async function makeBusyboxImage(): Promise<BusyboxImage> {
  const base = await mkdtemp(join(tmpdir(), 'xenroot-imgtest-'));
  const dir = join(base, 'root');
  const file = join(base, 'root.img');
  const mnt = join(base, 'mnt');
  await mkdir(mnt);
  await makeBusyboxDir(dir);
  await makeExt4Image(dir, file, { label: 'xenroot-test' });
  return {
    base,
    dir,
    file,
    mnt,
    async cleanup() {
      // Never delete recursively through a mount that is still there.
      const left = await resourcesUnder([base]);
      if (left.mounts.length || left.loops.length) throw new Error(`not removing ${base}: ${JSON.stringify(left)}`);
      await rm(base, { recursive: true, force: true });
    },
  };
}
