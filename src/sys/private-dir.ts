/**
 * Directories that hold secrets (xenroot's state: host keys, model caches with per-node files):
 * created 0700, and tightened to 0700 when found more open (the caller warns).
 */
import { chmodSync, mkdirSync, statSync } from 'node:fs';

/**
 * Makes `dir` (and missing parents, each 0700) exist with no access for group and others.
 * Returns the mode it had when that was more open than 0700 and was tightened, else undefined.
 * Throws the fs error when the directory cannot be made or changed (EACCES, EROFS, ...).
 */
export function ensurePrivateDir(dir: string): number | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o7777;
  if ((mode & 0o077) === 0) return undefined;
  chmodSync(dir, mode & 0o7700);
  return mode;
}
