/**
 * Applying a plan: each desired file is compared with what is on disk and written only when it
 * differs (temp file + rename, so a reader never sees half a file); files and managed blocks that
 * xenroot wrote before (the manifest) but no longer wants are removed. `root` prefixes every path
 * (DESTDIR style); `dryRun` computes the same outcomes and touches nothing.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { DeployError, InterruptedError } from '../errors.js';
import { mergeManagedBlock, hasManagedBlock } from '../render/exports.js';
import type { DesiredFile, FileGroup } from './plan.js';
import type { HashCache } from './tftp.js';

export type Outcome = 'created' | 'updated' | 'removed' | 'unchanged';

export interface ManifestEntry {
  kind: DesiredFile['kind'];
  group: FileGroup;
  /** text: sha1 of the content, and the stat of the file as xenroot left it. */
  sha1?: string;
  size?: number;
  mtimeMs?: number;
  ino?: number;
}

/** What xenroot owns on disk (system paths) and the hash cache of staged sources. */
export interface Manifest {
  version: 1;
  files: Record<string, ManifestEntry>;
  sources: HashCache;
}

export function emptyManifest(): Manifest {
  return { version: 1, files: {}, sources: {} };
}

export interface FileChange {
  /** System path (what the file is for). */
  path: string;
  /** Where it is on disk (path under --root). */
  target: string;
  group: FileGroup;
  outcome: Outcome;
  diff?: string;
}

export interface ApplyOptions {
  root?: string;
  dryRun?: boolean;
  diff?: boolean;
  /** Parallel file operations (default 32). */
  concurrency?: number;
}

export interface ApplyResult {
  changes: FileChange[];
  counts: Record<Outcome, number>;
  manifest: Manifest;
}

export function under(root: string | undefined, path: string): string {
  return root ? join(root, path) : path;
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

async function readText(p: string): Promise<string | undefined> {
  try {
    return await readFile(p, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DeployError(`cannot read ${p}: ${(err as Error).message}`, { cause: err });
  }
}

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  return stat(p).catch(() => undefined);
}

/** Runs `fn` over `items` with at most `limit` in flight; stops at the first error. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, aborted: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (aborted()) throw new InterruptedError('sync interrupted; every file is either old or new, none half-written');
      await fn(items[next++] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

class Writer {
  private dirs = new Set<string>();
  private seq = 0;
  readonly inFlight = new Set<string>();

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.dirs.add(dir);
  }

  /** Writes `data` (or a copy of `source`) to `target` through a temp file and a rename. */
  async put(target: string, data: { text: string } | { source: string }, mode: number): Promise<void> {
    const dir = dirname(target);
    await this.ensureDir(dir);
    const tmp = join(dir, `.${basename(target)}.xenroot-${process.pid}-${this.seq++}`);
    this.inFlight.add(tmp);
    try {
      if ('text' in data) await writeFile(tmp, data.text, { mode });
      else {
        await copyFile(data.source, tmp);
        await chmod(tmp, mode);
      }
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new DeployError(`cannot write ${target}: ${(err as Error).message}`, { cause: err });
    } finally {
      this.inFlight.delete(tmp);
    }
  }
}

function patch(path: string, before: string | undefined, after: string | undefined): string {
  return createTwoFilesPatch(before === undefined ? '/dev/null' : `a${path}`, after === undefined ? '/dev/null' : `b${path}`, before ?? '', after ?? '', '', '', { context: 3 });
}

export async function applyPlan(files: DesiredFile[], prev: Manifest, sources: HashCache, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const { root, dryRun = false, diff = false } = opts;
  const writer = new Writer();
  const next: Manifest = { version: 1, files: {}, sources };
  const changes: FileChange[] = new Array(files.length);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    for (const tmp of writer.inFlight) {
      try {
        unlinkSync(tmp);
      } catch {
        /* already renamed or gone */
      }
    }
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const record = async (f: DesiredFile, target: string, extra: Partial<ManifestEntry> = {}, st?: Stats) => {
    const entry: ManifestEntry = { kind: f.kind, group: f.group, ...extra };
    if (st) Object.assign(entry, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    next.files[f.path] = entry;
    void target;
  };

  const one = async (f: DesiredFile, index: number) => {
    const target = under(root, f.path);
    const change: FileChange = { path: f.path, target, group: f.group, outcome: 'unchanged' };
    changes[index] = change;
    if (f.kind === 'text') {
      const hash = sha1(f.content);
      const old = prev.files[f.path];
      const st = await statOrUndefined(target);
      if (st && old?.kind === 'text' && old.sha1 === hash && old.size === st.size && old.mtimeMs === st.mtimeMs && old.ino === st.ino) {
        await record(f, target, { sha1: hash }, st);
        return;
      }
      const before = st ? await readText(target) : undefined;
      if (before === f.content) {
        await record(f, target, { sha1: hash }, st);
        return;
      }
      change.outcome = before === undefined ? 'created' : 'updated';
      if (diff) change.diff = patch(f.path, before, f.content);
      if (!dryRun) {
        await writer.put(target, { text: f.content }, st ? st.mode & 0o7777 : 0o644);
        await record(f, target, { sha1: hash }, await stat(target));
      }
      return;
    }
    if (f.kind === 'copy') {
      const st = await statOrUndefined(target);
      let same = false;
      if (st && st.size === f.size) {
        // A versioned name carries the content hash: same name and size is the same file.
        same = f.versioned || (await readFile(target)).equals(await readFile(f.source));
      }
      if (same) {
        await record(f, target);
        return;
      }
      change.outcome = st ? 'updated' : 'created';
      if (diff) change.diff = `Binary file ${f.path} ${change.outcome} from ${f.source}\n`;
      if (!dryRun) {
        await writer.put(target, { source: f.source }, 0o644);
        await record(f, target);
      }
      return;
    }
    // A managed block inside a shared file.
    const before = await readText(target);
    const after = mergeManagedBlock(before, f.body);
    if (before === after) {
      await record(f, target);
      return;
    }
    change.outcome = before !== undefined && hasManagedBlock(before) ? 'updated' : 'created';
    if (diff) change.diff = patch(f.path, before, after);
    if (!dryRun) {
      const st = await statOrUndefined(target);
      await writer.put(target, { text: after }, st ? st.mode & 0o7777 : 0o644);
      await record(f, target);
    }
  };

  try {
    await pool(
      files.map((f, i) => [f, i] as const),
      opts.concurrency ?? 32,
      ([f, i]) => one(f, i),
      () => interrupted,
    );

    // Whatever xenroot wrote before and no longer wants.
    const wanted = new Set(files.map((f) => f.path));
    const stale = Object.entries(prev.files).filter(([p]) => !wanted.has(p));
    const removals: FileChange[] = [];
    await pool(
      stale,
      opts.concurrency ?? 32,
      async ([path, entry]) => {
        const target = under(root, path);
        if (entry.kind === 'block') {
          const before = await readText(target);
          if (before === undefined || !hasManagedBlock(before)) return;
          const after = mergeManagedBlock(before, undefined);
          const change: FileChange = { path, target, group: entry.group, outcome: 'removed' };
          if (diff) change.diff = patch(path, before, after);
          removals.push(change);
          if (!dryRun) {
            const st = await statOrUndefined(target);
            await writer.put(target, { text: after }, st ? st.mode & 0o7777 : 0o644);
          }
          return;
        }
        const st = await statOrUndefined(target);
        if (!st) return;
        const change: FileChange = { path, target, group: entry.group, outcome: 'removed' };
        if (diff) change.diff = entry.kind === 'copy' ? `Binary file ${path} removed\n` : patch(path, await readText(target), undefined);
        removals.push(change);
        if (!dryRun) {
          await rm(target, { force: true });
          // An image directory of the TFTP tree left empty goes too.
          if (entry.group === 'tftp' && /\/images\/[^/]+\/[^/]+$/.test(path)) await rmdir(dirname(target)).catch(() => undefined);
        }
      },
      () => interrupted,
    );
    removals.sort((a, b) => a.path.localeCompare(b.path));
    const all = [...changes, ...removals];
    // A stable order, so that an unchanged tree gives a byte-identical manifest.
    const ordered: Record<string, ManifestEntry> = {};
    for (const f of files) if (next.files[f.path]) ordered[f.path] = next.files[f.path]!;
    next.files = ordered;
    const counts: Record<Outcome, number> = { created: 0, updated: 0, removed: 0, unchanged: 0 };
    for (const c of all) counts[c.outcome]++;
    return { changes: all, counts, manifest: next };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
