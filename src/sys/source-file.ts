/**
 * Reading a file the admin named (`--file DEST=SOURCE`, a node's `files.PATH.source`) as root
 * without being led elsewhere by whoever can write near it: the last component is opened with
 * O_NOFOLLOW (a symlink is refused, not followed), no directory on the way may be a symlink (the
 * resolved parent must be the parent as written), the opened file must be a regular file (fstat:
 * no FIFO, device or directory; O_NONBLOCK so that a FIFO cannot hang the open), and it must not
 * lie inside one of the `forbidden` directories (xenroot's own state: host keys, caches).
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/** What a source file must be, for the messages. */
export const SOURCE_RULE = 'a regular file, not a symlink, under no symlinked directory, outside xenroot\'s state directory';

/** `dir` resolved through its symlinks when it exists, else as written. */
function real(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/** Whether `path` is `dir` or below it (both absolute and normalised). */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Opens `path` (absolute) for reading as described above and returns the open descriptor and its
 * fstat. Throws an Error whose message says what is wrong with the path (the caller wraps it in
 * its typed error with the field name): missing, a symlink, under a symlinked directory, not a
 * regular file, inside a forbidden directory. The caller closes the descriptor.
 */
function openSource(path: string, forbidden: string[]): { fd: number; stat: Stats } {
  const p = resolve(path);
  for (const dir of forbidden) if (within(p, resolve(dir)) || within(real(dirname(p)), real(dir))) throw new Error(`${p} lies inside xenroot's state directory ${dir}, which is never read as a source`);
  let parent: string;
  try {
    parent = realpathSync(dirname(p));
  } catch {
    throw new Error(`${p} does not exist`);
  }
  if (parent !== dirname(p)) throw new Error(`${p} lies under a symlinked directory (${dirname(p)} resolves to ${parent})`);
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new Error(`${p} is a symlink`);
    if (code === 'ENOENT') throw new Error(`${p} does not exist`);
    throw new Error(`${p} cannot be opened (${code ?? String(err)})`);
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    const kind = stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : stat.isSocket() ? 'a socket' : 'not a regular file';
    throw new Error(`${p} is ${kind}`);
  }
  return { fd, stat };
}

/**
 * The fstat of the source file at `path` after the checks above (nothing is read). Throws an Error
 * naming the path and what is wrong with it.
 */
export function statSourceFile(path: string, forbidden: string[]): Stats {
  const { fd, stat } = openSource(path, forbidden);
  closeSync(fd);
  return stat;
}

/**
 * The bytes of the source file at `path`, read through the one descriptor the checks above were
 * made on (a file swapped after the check is not read). Throws an Error naming the path and what
 * is wrong with it.
 */
export function readSourceFile(path: string, forbidden: string[]): Buffer {
  const { fd } = openSource(path, forbidden);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
