/**
 * xenroot's state directory (paths.ts: stateDir) holds every node's SSH host keys and the model
 * caches (which carry inline per-node files): it is made 0700 before anything is written into it,
 * and tightened to 0700 with a warning when an earlier run or a hand step left it more open.
 */
import { resolve } from 'node:path';
import { log } from '../sys/log.js';
import { ensurePrivateDir } from '../sys/private-dir.js';

const done = new Set<string>();

/**
 * Makes the state directory `dir` (default: stateDir(); under --root, the state directory as it
 * is there) exist with mode 0700, once per process and path; logs a warning naming the old mode
 * when it was more open. Returns `dir`. Throws the fs error when it cannot be made (EACCES, EROFS).
 */
export function ensureStateDir(dir: string): string {
  const d = resolve(dir);
  if (done.has(d)) return d;
  const was = ensurePrivateDir(d);
  if (was !== undefined) log().warn({ dir: d, mode: was.toString(8).padStart(4, '0') }, `xenroot's state directory ${d} was readable by others (mode ${was.toString(8)}): tightened to 0700, it holds host keys`);
  done.add(d);
  return d;
}
