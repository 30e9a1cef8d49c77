/** Free space of the filesystem that holds (or would hold) a path. */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The bytes an unprivileged writer may still use (statfs f_bavail x f_bsize) on the filesystem of
 * `path`, or of its nearest existing ancestor when `path` does not exist yet; `at` names the
 * directory measured. Errors other than ENOENT/ENOTDIR are thrown as they come.
 */
export async function freeSpace(path: string): Promise<{ at: string; bytes: number }> {
  let at = path;
  for (;;) {
    try {
      const s = await statfs(at);
      return { at, bytes: s.bavail * s.bsize };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(at) === at) throw err;
      at = dirname(at);
    }
  }
}
