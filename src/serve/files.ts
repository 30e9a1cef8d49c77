/**
 * The boot files the service sends over HTTP: files of the TFTP tree that `sync` wrote (loaders,
 * kernels, initrds, iPXE scripts, pxelinux and GRUB entries, the per-node switch links), and never
 * one that may hold a secret. A path is judged before anything is opened, then the file is opened
 * and judged again by what it is:
 *  - malformed (400): not UTF-8 percent-encoding, a NUL or backslash, an empty, `.` or `..` segment;
 *  - refused (403): under identity/ (the per-node pieces hold host private keys), a dot file, a
 *    file not readable by everyone (mode without o+r: xenroot writes secrets 0600), a file whose
 *    real path leaves the tree (a symbolic link out of it);
 *  - unknown (404): no such regular file.
 */
import { constants, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';

/** Why a path is not sent: the HTTP status and a one-line reason for the log. */
export interface FileRefusal {
  status: 400 | 403 | 404;
  reason: string;
}

/** The directories of the tree that are never sent, whatever their files' modes. */
const SECRET_DIRS = ['identity'];

/** The segments of a request path below the tree (`/a/b` -> [a, b]), or the refusal of a malformed one. */
export function bootPathSegments(urlPath: string): string[] | FileRefusal {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { status: 400, reason: 'the path is not valid percent-encoding' };
  }
  if (/[\0\\]/.test(decoded)) return { status: 400, reason: 'the path holds a NUL or a backslash' };
  const segs = decoded.replace(/^\/+/, '').split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return { status: 400, reason: 'the path has an empty, "." or ".." segment' };
  if (SECRET_DIRS.includes(segs[0] as string)) return { status: 403, reason: `${segs[0]}/ holds per-node secrets and is never served` };
  if (segs.some((s) => s.startsWith('.'))) return { status: 403, reason: 'dot files are not served' };
  return segs;
}

/** An open boot file: the handle (the caller closes it) and its size. */
export interface OpenedBootFile {
  handle: FileHandle;
  size: number;
  path: string;
}

/**
 * Opens the boot file at `urlPath` below `root` (the site's TFTP root) if it may be sent.
 * Returns the open file or its refusal; never throws for a request's path.
 */
export async function openBootFile(root: string, urlPath: string): Promise<OpenedBootFile | FileRefusal> {
  const segs = bootPathSegments(urlPath);
  if (!Array.isArray(segs)) return segs;
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(join(root, ...segs));
  } catch {
    return { status: 404, reason: 'no such file' };
  }
  if (!real.startsWith(realRoot + sep)) return { status: 403, reason: 'its real path leaves the boot tree' };
  const relReal = real.slice(realRoot.length + 1).split(sep);
  if (SECRET_DIRS.includes(relReal[0] as string)) return { status: 403, reason: `it resolves into ${relReal[0]}/, which holds per-node secrets` };
  let handle: FileHandle;
  try {
    // The real path, not the request's: a link swapped after the check cannot lead elsewhere.
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { status: 404, reason: 'no such file' };
  }
  let st: Stats;
  try {
    st = await handle.stat();
  } catch {
    await handle.close();
    return { status: 404, reason: 'no such file' };
  }
  if (!st.isFile()) {
    await handle.close();
    return { status: 404, reason: 'not a regular file' };
  }
  if ((st.mode & 0o004) === 0) {
    await handle.close();
    return { status: 403, reason: 'the file is not readable by everyone (it may hold a secret)' };
  }
  return { handle, size: st.size, path: real };
}
