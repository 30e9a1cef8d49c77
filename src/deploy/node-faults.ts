/**
 * A node whose files cannot be made does not stop the others: `xenroot sync` writes
 * every other node's files and the shared ones, leaves the failing node's files as they were, and
 * reports it (owner, path, reason). Two kinds of per-node fault: its files cannot be rendered (a
 * value only one consumer refuses, e.g. an `ip=` its initrd cannot honour), or a path of its own
 * cannot be written (a directory stands where its file goes). Shared files (site, images) failing
 * still fail the whole sync: every node needs them.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isXenrootError, ExitCode } from '../sys/errors.js';

/** A planned file as far as this module reads it (plan.ts DesiredFile; structural: plan.ts imports this module). */
type PlannedFile = { owner: string; kind: string; path: string };
/** The previous manifest as far as this module reads it (manifest.ts Manifest). */
type PreviousFiles = { files: Record<string, { kind: string; owner: string }> };

/** A system path under --root (manifest.ts `under`). */
const under = (root: string | undefined, path: string): string => (root ? join(root, path) : path);

/** One node that sync could not write. */
export interface NodeFailure {
  /** `client:NAME` or `guest:NAME`. */
  owner: string;
  kind: 'client' | 'guest';
  name: string;
  /** The file it concerns (the system path). */
  path: string;
  /** One line: what is wrong. */
  reason: string;
  /** The exit code the fault would have on its own (4 render, 8 write, 3 inventory). */
  exitCode: number;
}

/**
 * Runs `fn` (the rendering of one node's files); a typed xenroot error becomes a NodeFailure in
 * `failures` (returns undefined), anything else is rethrown (a bug is not a node's fault).
 */
export function nodeAttempt<T>(failures: NodeFailure[] | undefined, kind: 'client' | 'guest', name: string, path: string, fn: () => T): T | undefined {
  if (!failures) return fn();
  try {
    return fn();
  } catch (err) {
    if (!isXenrootError(err)) throw err;
    failures.push({ owner: `${kind}:${name}`, kind, name, path, reason: err.message, exitCode: err.exitCode });
    return undefined;
  }
}

/**
 * The nodes (client and guest owners) one of whose own files cannot be written where it goes: a
 * directory (not a link to one) stands at its path. Reads only (lstat).
 */
export function blockedNodes(files: PlannedFile[], root: string | undefined): NodeFailure[] {
  const out: NodeFailure[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    const m = /^(client|guest):(.+)$/.exec(f.owner);
    if (!m || seen.has(f.owner) || (f.kind !== 'text' && f.kind !== 'link')) continue;
    const target = under(root, f.path);
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st?.isDirectory()) {
      seen.add(f.owner);
      out.push({ owner: f.owner, kind: m[1] as 'client' | 'guest', name: m[2]!, path: f.path, reason: `${target} is a directory; the node's file cannot be written there`, exitCode: ExitCode.deploy });
    }
  }
  return out;
}

/**
 * The files of the previous manifest that the kept (failed) nodes' links still point into: a
 * client's switch link names a shared entry set (plan.ts nodeSwitch) that no other node may want
 * any more; it stays until the node is written again. Reads the links (readlink).
 */
export function keptSetFiles(prev: PreviousFiles, keep: ReadonlySet<string>, root: string | undefined): Set<string> {
  const dirs: string[] = [];
  for (const [path, e] of Object.entries(prev.files)) {
    if (e.kind !== 'link' || !keep.has(e.owner)) continue;
    try {
      dirs.push(resolve(dirname(path), readlinkSync(under(root, path))) + '/');
    } catch {
      // gone or not a link any more: nothing it points into
    }
  }
  const out = new Set<string>();
  if (dirs.length === 0) return out;
  for (const path of Object.keys(prev.files)) if (dirs.some((d) => path.startsWith(d))) out.add(path);
  return out;
}
