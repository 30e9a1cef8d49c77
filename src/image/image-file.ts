/**
 * An image is data: xenroot (root) reads its files the way a process chrooted to the image would
 * see them, never a host file through a link, and never anything but regular files.
 *
 *   readImageFile(root, 'boot/vmlinuz-6.1.0-28-amd64')   Buffer, or ImageError
 *
 * Every component is resolved inside `root` (src/image/mounts.ts resolveInRoot: an absolute or
 * relative symlink that stays in the image resolves within it, `..` stops at the image's root,
 * like chroot); the last component is opened with O_NOFOLLOW and O_NONBLOCK (a FIFO never blocks
 * the open), the open file must be a regular file (fstat), and the kernel's name of the open file
 * (/proc/self/fd/N) must lie inside the image's real root, so a component swapped for a link
 * between resolving and opening is caught too. Paths that come from inside the image (modules.dep
 * entries, file names in its directories) are first checked with imageRelPath: no absolute path,
 * no `..`, no NUL.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { ImageError } from '../sys/errors.js';
import { resolveInRoot } from './mounts.js';

/** Default upper bound of readImageFile (bytes): a kernel, a module, a busybox or an index. */
export const IMAGE_FILE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Checks a path relative to an image root that came from the image or was built from its
 * content, and returns it without empty and `.` segments. `what` names where it came from in the
 * error ("modules.dep of /img/lib/modules/6.1"). ImageError for an absolute path, a `..`
 * segment, a NUL byte or an empty path.
 */
export function imageRelPath(rel: string, what: string): string {
  const shown = JSON.stringify(rel);
  if (rel.includes('\0')) throw new ImageError(`${what} names ${shown}, which holds a NUL byte`, { hint: 'paths from an image are relative, below its root' });
  if (rel.startsWith('/')) throw new ImageError(`${what} names the absolute path ${shown}`, { hint: 'paths from an image must be relative to the image (or its modules directory); absolute paths are refused' });
  const parts = rel.split('/').filter((p) => p && p !== '.');
  if (parts.includes('..')) throw new ImageError(`${what} names ${shown}, which climbs out with ..`, { hint: 'paths from an image must stay below the directory they are relative to' });
  if (!parts.length) throw new ImageError(`${what} names an empty path`, { hint: 'paths from an image name a file below its root' });
  return parts.join('/');
}

async function realRoot(root: string): Promise<string> {
  try {
    return await realpath(root);
  } catch (err) {
    throw new ImageError(`image root ${root} does not exist`, { cause: err, hint: 'give the root directory of the image (or of a mounted image file)' });
  }
}

function inside(real: string, path: string): boolean {
  return path === real || path.startsWith(real === '/' ? '/' : `${real}/`);
}

/**
 * Where `rel` is inside the image, resolved as chroot would (links followed within the root,
 * never out of it): the host path and its lstat, or undefined when it does not exist. Does not
 * check `rel` itself (xenroot's own paths); pass paths read from the image through imageRelPath.
 */
export async function locateInImage(root: string, rel: string): Promise<{ path: string; kind: 'file' | 'dir' | 'other'; size: number } | undefined> {
  const real = await realRoot(root);
  const r = await resolveInRoot(real, rel);
  if (!r.exists || !inside(real, r.path)) return undefined;
  const st = await lstat(r.path).catch(() => undefined);
  if (!st) return undefined;
  return { path: r.path, kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', size: st.size };
}

/** True when `rel` is a regular file of the image (resolved as chroot would; see locateInImage). */
export async function isImageFile(root: string, rel: string): Promise<boolean> {
  return (await locateInImage(root, rel))?.kind === 'file';
}

/**
 * Opens the regular file `rel` of the image read-only (see the file comment for how). The caller
 * closes the handle. ImageError when it does not exist, is not a regular file (directory, device,
 * FIFO, socket) or resolves outside the image.
 */
export async function openInImage(root: string, rel: string): Promise<{ handle: FileHandle; path: string; size: number }> {
  const real = await realRoot(root);
  const shown = `/${rel.split('/').filter((p) => p && p !== '.').join('/')}`;
  const r = await resolveInRoot(real, rel);
  if (!r.exists) throw new ImageError(`the image ${root} has no ${shown}`, { hint: 'install it into the image, or check the name' });
  let handle: FileHandle;
  try {
    handle = await open(r.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageError(`cannot open ${shown} of the image ${root}: ${code === 'ELOOP' ? 'it changed into a symlink while it was opened' : code ?? String(err)}`, { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a regular file';
      throw new ImageError(`${shown} of the image ${root} is ${kind}: only regular files of an image are read`, { hint: 'replace it with a regular file in the image' });
    }
    const opened = await readlink(`/proc/self/fd/${handle.fd}`);
    if (!inside(real, opened)) {
      throw new ImageError(`${shown} of the image ${root} resolved outside the image (${JSON.stringify(opened)}): refused`, { hint: 'links in an image may only point inside it' });
    }
    return { handle, path: opened, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Reads the regular file `rel` of the image (see openInImage). ImageError as openInImage, and
 * when it is larger than `maxBytes` (default IMAGE_FILE_MAX_BYTES).
 */
export async function readImageFile(root: string, rel: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
  const max = opts.maxBytes ?? IMAGE_FILE_MAX_BYTES;
  const { handle, size } = await openInImage(root, rel);
  try {
    if (size > max) {
      throw new ImageError(`/${posix.normalize(rel)} of the image ${root} is ${size} bytes, more than the ${max} xenroot reads of one file`, { hint: 'an image file this large is not a kernel, module or index xenroot expects' });
    }
    const buf = Buffer.alloc(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await handle.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? buf : buf.subarray(0, at);
  } finally {
    await handle.close();
  }
}
