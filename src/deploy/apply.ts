/**
 * Applying a plan: each desired file is compared with what is on disk and written only when it
 * differs; files and managed blocks that xenroot wrote before (the manifest) but no longer wants
 * are removed, except the clients' entry sets (named by their content, never changed once written):
 * one no node names any more stays on disk, out of the manifest, for the next node that wants the
 * same content (a rollback, a rollout back) or for `image prune` (deploy/switches.ts
 * removeOrphanSets). Unlinking thousands of small files costs seconds on these disks. Every write goes through one AtomicBatch (src/sys/atomic.ts): nothing is visible
 * until the batch commits, so an interrupt before that leaves the tree as it was, and a reader
 * never sees half a file. `root` prefixes every path (DESTDIR style); `dryRun` computes the same
 * outcomes and touches nothing; `owners` limits the apply to the files of some nodes (the rest of
 * the manifest is carried over untouched). The result can be undone (`undo`) while the caller
 * still holds the inventory lock: a command whose inventory save fails takes its files back.
 */
import * as crypto from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync, renameSync, rmdirSync, statSync, symlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createTwoFilesPatch } from 'diff';
import { DeployError } from '../sys/errors.js';
import { AtomicBatch, removeFile, writeError, writeFileAtomicSync } from '../sys/atomic.js';
import { throwIfInterrupted } from '../sys/lifetime.js';
import { mergeManagedBlock, hasManagedBlock } from '../render/exports.js';
import { beginApply, endApply, interruptedApply, readManifest, sweepAfterInterruptedApply, under, writeManifest, type HashCache, type Manifest, type ManifestEntry } from './manifest.js';
import type { BytePart, DesiredFile, FileGroup, FileOwner } from './plan.js';

export type Outcome = 'created' | 'updated' | 'removed' | 'unchanged';

export interface FileChange {
  /** System path (what the file is for). */
  path: string;
  /** Where it is on disk (path under --root). */
  target: string;
  group: FileGroup;
  owner: FileOwner | '';
  outcome: Outcome;
  diff?: string;
}

export interface ApplyOptions {
  root?: string;
  dryRun?: boolean;
  diff?: boolean;
  /** Only these owners' files are applied and removed; others stay as the manifest has them. */
  owners?: Set<string>;
  /** Files handled between two turns of the event loop (default 256). */
  chunk?: number;
  /** Called right before anything becomes visible (throw to apply nothing): the lock check. */
  beforeCommit?: () => void;
  /** Owners whose files stay as the manifest has them (nodes that failed). */
  keep?: ReadonlySet<string>;
  /** Files of other owners that stay too: the shared sets a failed node's links still point into. */
  keepPaths?: ReadonlySet<string>;
}

export interface ApplyResult {
  changes: FileChange[];
  counts: Record<Outcome, number>;
  manifest: Manifest;
  /** Puts back what this apply changed (text files: old content; created files: removed). */
  undo(): void;
}

// crypto.hash (Node >= 20.12) is the one-shot form, several times cheaper per small string.
const oneShot = (crypto as { hash?: (alg: string, data: string) => string }).hash;
const sha1 = (s: string): string => (oneShot ? oneShot('sha1', s) : crypto.createHash('sha1').update(s).digest('hex'));

function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DeployError(`cannot read ${p}: ${(err as Error).message}`, { cause: err });
  }
}

function statOf(p: string): Stats | undefined {
  return statSync(p, { throwIfNoEntry: false });
}

/** Runs `fn` over `items` in order, yielding to the event loop every `chunk` items so that a signal is seen. */
async function chunked<T>(items: T[], chunk: number, fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    if (i % chunk === 0) {
      await yieldToLoop();
      throwIfInterrupted();
    }
    fn(items[i] as T);
  }
}

function patch(path: string, before: string | undefined, after: string | undefined): string {
  return createTwoFilesPatch(before === undefined ? '/dev/null' : `a${path}`, after === undefined ? '/dev/null' : `b${path}`, before ?? '', after ?? '', '', '', { context: 3 });
}

/** The bytes of a `bytes` file: its parts in order (sources read now, data made now). */
export function buildBytes(parts: BytePart[]): Buffer {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (const p of parts) {
    let chunk: Uint8Array;
    if ('source' in p) chunk = readFileSync(p.source);
    else if ('data' in p) chunk = p.data();
    else if ('zeros' in p) chunk = Buffer.alloc(p.zeros);
    else chunk = Buffer.alloc((p.align - (length % p.align)) % p.align);
    chunks.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(chunks, length);
}

/**
 * A file of a clients' entry set (TFTP_ROOT/nodes/entries/SET/FILE, see plan.ts nodeSwitch): its
 * set is named by its content, so a set nothing wants is kept rather than unlinked.
 */
const RETAINED_SET_FILE = /\/nodes\/entries\/[^/]+\/[^/]+$/;

export async function applyPlan(files: DesiredFile[], prev: Manifest, sources: HashCache, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const { root, dryRun = false, diff = false, owners } = opts;
  const chunk = opts.chunk ?? 256;
  const inScope = (owner: string): boolean => (!owners || owners.has(owner)) && !opts.keep?.has(owner);
  const batch = dryRun ? undefined : new AtomicBatch();
  const next: Manifest = { files: {}, sources };
  const changes: FileChange[] = [];
  /** For undo: the text each changed file had before (undefined: it did not exist). */
  const before = new Map<string, string | undefined>();
  /** For undo: the target each changed link had before (undefined: it did not exist). */
  const beforeLinks = new Map<string, string | undefined>();

  const record = (f: DesiredFile, extra: Partial<ManifestEntry> = {}, st?: Stats) => {
    const entry: ManifestEntry = { kind: f.kind, group: f.group, owner: f.owner, ...extra };
    if (st) Object.assign(entry, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    next.files[f.path] = entry;
  };

  // A file in a directory this batch is creating cannot exist yet: no need to look.
  const lookup = (target: string): Stats | undefined => (batch?.isNewDir(dirname(target)) ? undefined : statOf(target));

  const one = (f: DesiredFile) => {
    const target = under(root, f.path);
    const change: FileChange = { path: f.path, target, group: f.group, owner: f.owner, outcome: 'unchanged' };
    changes.push(change);
    if (f.kind === 'text') {
      const hash = sha1(f.content);
      const old = prev.files[f.path];
      const st = lookup(target);
      // Unchanged since xenroot wrote it (same inode, size, mtime) and the same content wanted.
      if (st && old?.kind === 'text' && old.sha1 === hash && old.size === st.size && old.mtimeMs === st.mtimeMs && old.ino === st.ino) {
        record(f, { sha1: hash }, st);
        return;
      }
      // A kept entry set's file (named by its content's hash, never changed once written): same
      // name and size is the same file, as for a versioned copy; a rollout back reads none of them.
      // (One the manifest holds is judged by its stat above: an edit in place is restored.)
      if (st && !old && RETAINED_SET_FILE.test(f.path) && st.size === Buffer.byteLength(f.content)) {
        record(f, { sha1: hash }, st);
        return;
      }
      const was = st ? readText(target) : undefined;
      if (was === f.content) {
        record(f, { sha1: hash }, st);
        return;
      }
      change.outcome = was === undefined ? 'created' : 'updated';
      if (diff) change.diff = patch(f.path, was, f.content);
      if (batch) {
        before.set(target, was);
        record(f, { sha1: hash }, batch.put(target, { text: f.content }, st ? st.mode & 0o7777 : 0o644));
      }
      return;
    }
    if (f.kind === 'link') {
      const st = lstatSync(target, { throwIfNoEntry: false });
      const was = st?.isSymbolicLink() ? readlinkSync(target) : undefined;
      if (was === f.target) {
        record(f, { sha1: sha1(f.target) }, st);
        return;
      }
      change.outcome = st ? 'updated' : 'created';
      if (diff) change.diff = patch(f.path, was === undefined ? (st ? readText(target) : undefined) : `-> ${was}\n`, `-> ${f.target}\n`);
      if (batch) {
        if (st && !st.isSymbolicLink()) before.set(target, readText(target));
        else beforeLinks.set(target, was);
        record(f, { sha1: sha1(f.target) }, batch.put(target, { link: f.target }, 0o777));
      }
      return;
    }
    if (f.kind === 'copy') {
      const st = lookup(target);
      // A versioned name carries the content hash: same name and size is the same file.
      const same = !!st && st.size === f.size && (f.versioned || readFileSync(target).equals(readFileSync(f.source)));
      if (same) {
        record(f, { size: f.size });
        return;
      }
      change.outcome = st ? 'updated' : 'created';
      if (diff) change.diff = `Binary file ${f.path} ${change.outcome} from ${f.source}\n`;
      if (batch) {
        batch.put(target, { source: f.source }, 0o644);
        record(f, { size: f.size });
      }
      return;
    }
    if (f.kind === 'bytes') {
      const st = statOf(target);
      const old = prev.files[f.path];
      const mode = f.mode ?? 0o644;
      const ownerOk = !st || !f.fileOwner || (st.uid === f.fileOwner.uid && st.gid === f.fileOwner.gid);
      // Made from the same inputs, unchanged since xenroot wrote it, with the mode and owner wanted.
      if (st && old?.kind === 'bytes' && old.sha1 === f.key && old.size === st.size && old.mtimeMs === st.mtimeMs && old.ino === st.ino && (st.mode & 0o7777) === mode && ownerOk) {
        record(f, { sha1: f.key }, st);
        return;
      }
      const data = buildBytes(f.parts);
      if (st && (st.mode & 0o7777) === mode && ownerOk && st.size === data.length && readFileSync(target).equals(data)) {
        record(f, { sha1: f.key }, st);
        return;
      }
      change.outcome = st ? 'updated' : 'created';
      if (diff) change.diff = `Binary file ${f.path} ${change.outcome} (${data.length} bytes)\n`;
      if (batch) record(f, { sha1: f.key }, batch.put(target, { text: data }, mode, f.fileOwner));
      return;
    }
    // A managed block inside a shared file.
    const was = readText(target);
    const after = mergeManagedBlock(was, f.body);
    if (was === after) {
      record(f, {}, statOf(target));
      return;
    }
    change.outcome = was !== undefined && hasManagedBlock(was) ? 'updated' : 'created';
    if (diff) change.diff = patch(f.path, was, after);
    if (batch) {
      const st = statOf(target);
      before.set(target, was);
      record(f, {}, batch.put(target, { text: after }, st ? st.mode & 0o7777 : 0o644));
    }
  };

  // Whatever xenroot wrote before and no longer wants.
  const removeStale = (path: string, entry: ManifestEntry) => {
    const target = under(root, path);
    if (entry.kind === 'block') {
      const was = readText(target);
      if (was === undefined || !hasManagedBlock(was)) return;
      const after = mergeManagedBlock(was, undefined);
      const change: FileChange = { path, target, group: entry.group, owner: entry.owner, outcome: 'removed' };
      if (diff) change.diff = patch(path, was, after);
      changes.push(change);
      if (!dryRun) {
        before.set(target, was);
        writeFileAtomicSync(target, after, { mode: (statOf(target)?.mode ?? 0o644) & 0o7777 });
      }
      return;
    }
    if (entry.kind === 'link') {
      const st = lstatSync(target, { throwIfNoEntry: false });
      if (!st) return;
      const was = st.isSymbolicLink() ? readlinkSync(target) : undefined;
      const change: FileChange = { path, target, group: entry.group, owner: entry.owner, outcome: 'removed' };
      if (diff) change.diff = patch(path, `-> ${was ?? '?'}\n`, undefined);
      changes.push(change);
      if (!dryRun) {
        if (was !== undefined) beforeLinks.set(target, was);
        removeFile(target);
      }
      return;
    }
    if (!statOf(target)) return;
    const change: FileChange = { path, target, group: entry.group, owner: entry.owner, outcome: 'removed' };
    const binary = entry.kind === 'copy' || entry.kind === 'bytes';
    const was = binary ? undefined : readText(target);
    if (diff) change.diff = binary ? `Binary file ${path} removed\n` : patch(path, was, undefined);
    changes.push(change);
    if (!dryRun) {
      if (!binary) before.set(target, was);
      removeFile(target);
      // A node's file set (see nodeSwitch in plan.ts) left empty goes too.
      if (/\/(nodes\/entries|\.xenroot)\/[^/]+\/[^/]+$/.test(path)) {
        try {
          rmdirSync(dirname(target));
        } catch {
          /* not empty */
        }
      }
      // A guest's ramdisk directory (IMAGE/nodes/NAME) left empty goes too.
      if (entry.kind === 'bytes' && /\/nodes\/[^/]+\/[^/]+$/.test(path)) {
        try {
          rmdirSync(dirname(target));
        } catch {
          /* not empty */
        }
      }
      // An image directory of the TFTP tree left empty goes too.
      if (entry.group === 'tftp' && /\/images\/[^/]+\/[^/]+$/.test(path)) {
        try {
          rmdirSync(dirname(target));
        } catch {
          /* not empty */
        }
      }
    }
  };

  try {
    // A path that cannot even be looked at (ENOTDIR, ENAMETOOLONG, EACCES...) is a typed error naming it, not an internal one.
    await chunked(files, chunk, one).catch((err: NodeJS.ErrnoException) => {
      throw err?.code && typeof err.path === 'string' && !(err instanceof DeployError) ? writeError(err.path, err) : err;
    });
    throwIfInterrupted();
    if (batch) opts.beforeCommit?.();
    batch?.commit();
  } finally {
    batch?.abort();
  }
  const wanted = new Set(files.map((f) => f.path));
  const stale = Object.entries(prev.files)
    .filter(([p, e]) => !wanted.has(p) && inScope(e.owner) && !opts.keepPaths?.has(p))
    .sort(([a], [b]) => a.localeCompare(b));
  await chunked(stale, chunk, ([path, entry]) => {
    if (entry.kind !== 'text' || !RETAINED_SET_FILE.test(path)) removeStale(path, entry);
  });
  const counts: Record<Outcome, number> = { created: 0, updated: 0, removed: 0, unchanged: 0 };
  for (const c of changes) counts[c.outcome]++;
  // Plan order, so that an unchanged tree gives a byte-identical manifest; out-of-scope entries kept.
  const ordered: Record<string, ManifestEntry> = {};
  if (owners || opts.keep) for (const [p, e] of Object.entries(prev.files)) if ((!inScope(e.owner) || opts.keepPaths?.has(p)) && !wanted.has(p)) ordered[p] = e;
  for (const f of files) if (next.files[f.path]) ordered[f.path] = next.files[f.path]!;
  next.files = ordered;
  if (owners) next.inputs = undefined;
  else if (prev.inputs) next.inputs = prev.inputs;
  const undo = (): void => {
    for (const [target, was] of [...beforeLinks.entries()].reverse()) {
      if (was === undefined) removeFile(target);
      else {
        const tmp = `${target}.xenroot-undo-${process.pid}`;
        removeFile(tmp);
        symlinkSync(was, tmp);
        renameSync(tmp, target);
      }
    }
    for (const [target, text] of [...before.entries()].reverse()) {
      if (text === undefined) removeFile(target);
      else writeFileAtomicSync(target, text, { mode: (statOf(target)?.mode ?? 0o644) & 0o7777 });
    }
  };
  return { changes, counts, manifest: next, undo };
}

/**
 * Applies the files of some owners and records them in the manifest at `manifestFile` (under the
 * inventory lock, which the caller holds). Returns the apply result; its undo also puts the
 * previous manifest back.
 */
export async function applyOwned(files: DesiredFile[], owners: string[], manifestFile: string, opts: Omit<ApplyOptions, 'owners'> = {}): Promise<ApplyResult> {
  const loaded = readManifest(manifestFile);
  if (!opts.dryRun && interruptedApply(manifestFile)) sweepAfterInterruptedApply([...files.map((f) => f.path), ...Object.keys(loaded.manifest.files)], opts.root);
  if (!opts.dryRun) beginApply(manifestFile);
  const r = await applyPlan(files, loaded.manifest, loaded.manifest.sources, { ...opts, owners: new Set(owners) });
  if (opts.dryRun) return r;
  await writeManifest(manifestFile, r.manifest, loaded.text);
  endApply(manifestFile);
  return {
    ...r,
    undo: () => {
      r.undo();
      if (loaded.text === undefined) removeFile(manifestFile);
      else writeFileAtomicSync(manifestFile, loaded.text, { mode: 0o644 });
    },
  };
}
