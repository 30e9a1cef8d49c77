/**
 * Program lookup: the one place that answers "is TOOL installed here, and where?" and the one
 * error a command gives when it is not (a DependencyError naming the Debian package).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DependencyError } from './errors.js';

/** Directories searched after $PATH: daemons and admin tools live in sbin, often not on a user's PATH. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The full path of an executable `tool` on $PATH (then the sbin directories), or undefined. */
export function which(tool: string): string | undefined {
  if (tool.includes('/')) return executable(tool) ? tool : undefined;
  const dirs = [...(process.env.PATH ?? '/usr/bin:/bin').split(delimiter).filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const p = join(dir, tool);
    if (executable(p)) return p;
  }
  return undefined;
}

function executable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of `tool`, or a DependencyError: "`tool` is not installed (Debian package PKG)".
 * `why` says what needed it ("to serve the image over NFS").
 */
export function requireProgram(tool: string, pkg: string, why?: string): string {
  const p = which(tool);
  if (p) return p;
  throw new DependencyError(`${tool} is not installed${why ? ` (needed ${why})` : ''}`, { hint: `install the Debian package ${pkg} (scripts/setup.sh does)` });
}
