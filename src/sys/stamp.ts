/**
 * The code stamp: a hash of the modules that turn an inventory into a model and files
 * (inventory, render, deploy, ops, sys). Caches keyed by it (the validated model, the plan's
 * inputs) are void as soon as that code changes. The build writes it once (dist/stamp.txt,
 * scripts/bundle.mjs), so reading it costs one small file; without a build (sources run by the
 * tests) it is computed from the sources.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folders whose code the stamp covers (relative to dist/ or src/). */
export const STAMPED_DIRS = ['deploy', 'render', 'inventory', 'ops', 'sys'];

let stamp: string | undefined;

/** Hash of the stamped folders' files under `base` (content, not mtimes: a rebuild rewrites mtimes). */
export function hashCode(base: string): string {
  const h = createHash('sha1');
  for (const d of STAMPED_DIRS) {
    const dir = join(base, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.map')) continue;
      h.update(`${d}/${f}\0`).update(readFileSync(join(dir, f))).update('\0');
    }
  }
  return h.digest('hex');
}

/** The stamp of the running code: dist/stamp.txt of the build, else a hash of the sources. */
export function codeStamp(): string {
  if (stamp) return stamp;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/bundle/*.js, dist/sys/stamp.js and src/sys/stamp.ts all sit two levels below the repository.
  const repo = join(here, '../..');
  try {
    return (stamp = readFileSync(join(repo, 'dist/stamp.txt'), 'utf8').trim());
  } catch {
    return (stamp = hashCode(join(repo, 'src')));
  }
}
