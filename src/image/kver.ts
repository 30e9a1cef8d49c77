/**
 * Finds the kernel version an image boots: the releases under /lib/modules (or /usr/lib/modules)
 * that also have /boot/vmlinuz-RELEASE. A directory is read directly; an ext4 image file is read
 * with debugfs (no mount, no root needed).
 */
import { readdir } from 'node:fs/promises';
import { execa } from 'execa';
import { DependencyError, ImageError } from '../sys/errors.js';
import { isImageFile, locateInImage } from './image-file.js';

/** Compares kernel releases numerically part by part ("6.1.0-28" > "6.1.0-9"). */
export function compareKver(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (c !== 0) return c;
  }
  return 0;
}

/** What a kernel release read from an image may look like: a letter or digit first, then [A-Za-z0-9._+~-]. */
export const KVER_RE = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/**
 * The kernel releases of a directory image: names under lib/modules (or usr/lib/modules) that
 * match KVER_RE and have a regular file boot/vmlinuz-NAME, all resolved within the image's root.
 */
export async function kernelsInDir(root: string): Promise<string[]> {
  const found = new Set<string>();
  for (const base of ['lib/modules', 'usr/lib/modules']) {
    const dir = await locateInImage(root, base);
    if (dir?.kind !== 'dir') continue;
    let names: string[] = [];
    try {
      names = await readdir(dir.path);
    } catch {
      continue;
    }
    for (const n of names) if (KVER_RE.test(n) && (await isImageFile(root, `boot/vmlinuz-${n}`))) found.add(n);
  }
  return [...found].sort(compareKver);
}

async function debugfsLs(file: string, dir: string): Promise<string[]> {
  let out;
  try {
    out = await execa('debugfs', ['-R', `ls -p ${dir}`, file], { reject: false });
  } catch (err) {
    throw new DependencyError('debugfs is not installed', { hint: 'install the Debian package e2fsprogs', cause: err });
  }
  // ls -p prints /inode/mode/uid/gid/name/size/ per entry.
  return out.stdout
    .split('\n')
    .map((l) => l.split('/')[5])
    .filter((n): n is string => !!n && n !== '.' && n !== '..');
}

export async function kernelsInFile(file: string): Promise<string[]> {
  const boot = new Set(
    (await debugfsLs(file, '/boot')).filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length)).filter((n) => KVER_RE.test(n)),
  );
  const found = new Set<string>();
  for (const base of ['/lib/modules', '/usr/lib/modules']) for (const n of await debugfsLs(file, base)) if (boot.has(n)) found.add(n);
  return [...found].sort(compareKver);
}

/** The newest kernel release of the image, or an ImageError saying none was found. */
export async function detectKver(source: { root?: string; file?: string }): Promise<{ kver: string; all: string[] }> {
  const all = source.root ? await kernelsInDir(source.root) : await kernelsInFile(source.file as string);
  const kver = all[all.length - 1];
  if (!kver)
    throw new ImageError(`no kernel found in ${source.root ?? source.file} (looked for /boot/vmlinuz-VER with /lib/modules/VER)`, {
      hint: 'install a kernel into the image, or give the version with --kver VER',
    });
  return { kver, all };
}
