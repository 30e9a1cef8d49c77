/**
 * makeExt4Image: turns a directory into an ext4 loop image file with `mkfs.ext4 -d` (no loop mount,
 * no root needed). The size is computed from the directory's contents with headroom for metadata.
 */
import { lstat, readdir, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { execa } from 'execa';
import { DependencyError, ImageError } from '../sys/errors.js';
import { log } from '../sys/log.js';

export interface DirUsage {
  /** 4 KiB blocks the files and directories need, rounded up per entry. */
  blocks: number;
  entries: number;
}

/** Walks `dir` without following symlinks and counts blocks and entries. */
export async function dirUsage(dir: string): Promise<DirUsage> {
  let blocks = 0;
  let entries = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    entries++;
    if (st.isDirectory()) {
      blocks += 1;
      for (const name of await readdir(p)) await walk(join(p, name));
    } else if (st.isFile() || st.isSymbolicLink()) {
      blocks += Math.ceil(st.size / 4096);
    }
  };
  await walk(dir);
  return { blocks, entries };
}

/** Image size in bytes for a given usage: contents + 25 % + room for inodes, journal and reserve. Pure. */
export function ext4SizeFor(usage: DirUsage): number {
  const MiB = 1024 * 1024;
  const data = usage.blocks * 4096 * 1.25;
  const inodes = usage.entries * 256 * 2;
  const size = data + inodes + 16 * MiB;
  return Math.ceil(size / MiB) * MiB;
}

export interface MakeExt4Options {
  label?: string;
  /** Extra free space in MiB on top of the computed size. */
  extraMiB?: number;
}

/**
 * Creates `file` (atomically: a temp file renamed into place) as an ext4 filesystem holding a copy
 * of `dir`, owners and modes preserved. Returns the size in bytes.
 */
export async function makeExt4Image(dir: string, file: string, options: MakeExt4Options = {}): Promise<number> {
  let st;
  try {
    st = await lstat(dir);
  } catch {
    throw new ImageError(`makeExt4Image: source directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new ImageError(`makeExt4Image: ${dir} is not a directory`);
  let size = ext4SizeFor(await dirUsage(dir)) + (options.extraMiB ?? 0) * 1024 * 1024;
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    for (let attempt = 0; ; attempt++) {
      await writeFile(tmp, '');
      await truncate(tmp, size);
      const args = ['-q', '-F', '-t', 'ext4', '-d', dir, ...(options.label ? ['-L', options.label] : []), tmp];
      let r;
      try {
        r = await execa('mkfs.ext4', args, { reject: false, stdin: 'ignore' });
      } catch (err) {
        throw new DependencyError('makeExt4Image: mkfs.ext4 could not be run', { hint: 'apt-get install e2fsprogs', cause: err });
      }
      if (r.exitCode === 0) break;
      if (attempt < 2 && /space|allocate|inode/i.test(String(r.stderr))) {
        log().debug({ size }, 'ext4 image too small, doubling');
        size *= 2;
        continue;
      }
      throw new ImageError(`makeExt4Image: mkfs.ext4 -d ${dir} ${file} failed: ${String(r.stderr).trim().split('\n').pop()}`, {
        hint: 'mkfs.ext4 -d needs e2fsprogs >= 1.43',
      });
    }
    await rename(tmp, file);
    return size;
  } finally {
    await rm(tmp, { force: true });
  }
}
