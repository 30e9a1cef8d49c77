/**
 * The one way xenroot writes a file: a temp file in the same directory, flushed to disk, renamed
 * over the target (rename(2) is atomic within a filesystem, so a reader sees the old or the new
 * file, never half of one), then the directory flushed. Copies go the same way.
 *
 * Temp files are named `.NAME.xenroot-tmp-PID-N` beside their target: a run killed with SIGKILL
 * leaves one behind, and `sweepTempFiles(dir)` (run by the next write into that directory's
 * owner) recognises it by name and removes it once PID is gone.
 *
 * Many files at once (a sync of 20,000 files) go through `AtomicBatch`: every file is written to
 * its temp (a directory that does not exist yet is filled under a hidden staging name instead),
 * then ONE `syncfs(2)` of the filesystem replaces 20,000 fsyncs, then the renames (new directories
 * first, then files and symbolic links, in the order they were put). Nothing is
 * visible before the renames; an abort before them leaves the tree as it was.
 *
 * Why not write-file-atomic: its temp names cannot be told from a user's file after a SIGKILL,
 * and it cannot share one flush across a batch; xenroot needs both (issue: a zero-byte temp file
 * that survived every later sync).
 */
import { chmodSync, closeSync, constants, copyFileSync, chownSync, fchmodSync, fchownSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { copyFile, open, rename, unlink } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import { DeployError } from './errors.js';
import { onCleanup } from './lifetime.js';
import { pidAlive } from './proc.js';

const TEMP_MARK = '.xenroot-tmp-';
/** `.NAME.xenroot-tmp-PID-N`: the temp file (or staging directory) of NAME written by PID. */
export const TEMP_RE = /^\.(.+)\.xenroot-tmp-(\d+)-(\d+)$/;

let seq = 0;

/** A fresh temp path beside `target`. */
export function tempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}${TEMP_MARK}${process.pid}-${seq++}`);
}

/** The filesystem error of a write, as a DeployError naming the path (ENOSPC, EROFS, EACCES, ...). */
export function writeError(path: string, err: unknown): DeployError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason: Record<string, string> = {
    ENOSPC: 'the filesystem is full',
    EDQUOT: 'the disk quota is exhausted',
    EROFS: 'the filesystem is read-only',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENAMETOOLONG: 'the name is too long',
    ENOENT: 'a directory on the way does not exist',
    ENOTDIR: 'a part of the path is not a directory',
    EISDIR: 'it is a directory',
  };
  const why = (code && reason[code]) ?? (err instanceof Error ? err.message : String(err));
  return new DeployError(`cannot write ${path}: ${why}${code && reason[code] ? ` (${code})` : ''}`, {
    cause: err,
    hint: code === 'ENOSPC' || code === 'EDQUOT' ? 'free some space and run it again; nothing was half-written' : code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? 'run as a user who may write there, or pick another path' : undefined,
  });
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is done all the same.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * fsyncDir without blocking the event loop: a long-running caller (the boot service storing many
 * check-ins at once) keeps answering while the directory is flushed, and concurrent flushes of
 * one directory overlap in the kernel instead of queueing one after another on the loop.
 */
async function fsyncDirAsync(dir: string): Promise<void> {
  const dh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
  if (!dh) return;
  try {
    await dh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is done all the same.
  } finally {
    await dh.close();
  }
}

export interface WriteOptions {
  /** File mode (default 0o644); applied exactly, not through the umask. */
  mode?: number;
  /** Create missing parent directories (default false). */
  mkdirs?: boolean;
  /**
   * false: no fsync of the file and its directory (still temp + rename: a reader never sees half
   * a file). Only for caches whose loss or tearing by a crash is detected and costs a rebuild.
   */
  durable?: boolean;
  /** Group id the file gets (its owner stays the writer); default: the writer's group. */
  gid?: number;
}

/**
 * Writes `data` to `path` atomically and durably (temp + fsync + rename + directory fsync).
 * Throws a DeployError naming the path and the reason (ENOSPC, EROFS, EACCES, ...); the target is
 * then unchanged and no temp file is left.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const tmp = tempPath(path);
  const cleanup = onCleanup(`temp file ${tmp}`, () => unlink(tmp).catch(() => undefined), { sync: () => rmSync(tmp, { force: true }) });
  try {
    if (opts.mkdirs) mkdirSync(dirname(path), { recursive: true });
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      if (opts.gid !== undefined) await fh.chown(-1, opts.gid);
      await fh.chmod(opts.mode ?? 0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    cleanup.release();
    await fsyncDirAsync(dirname(path));
  } catch (err) {
    await cleanup.run();
    throw writeError(path, err);
  }
}

/** The synchronous form of writeFileAtomic (no await between the temp and the rename). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const tmp = tempPath(path);
  try {
    if (opts.mkdirs) mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
    try {
      writeAll(fd, data);
      chmodSync(tmp, opts.mode ?? 0o644);
      if (opts.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    if (opts.durable !== false) fsyncDir(dirname(path));
  } catch (err) {
    rmSync(tmp, { force: true });
    throw writeError(path, err);
  }
}

/**
 * Copies `src` to `dest` atomically (a reflink where the filesystem offers one, else a copy),
 * flushed before the rename. The source's read errors are thrown as they are.
 */
export async function copyFileAtomic(src: string, dest: string, opts: WriteOptions = {}): Promise<void> {
  const tmp = tempPath(dest);
  const cleanup = onCleanup(`temp file ${tmp}`, () => unlink(tmp).catch(() => undefined), { sync: () => rmSync(tmp, { force: true }) });
  try {
    if (opts.mkdirs) mkdirSync(dirname(dest), { recursive: true });
    await copyFile(src, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const fh = await open(tmp, 'r+');
    try {
      await fh.chmod(opts.mode ?? 0o644);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
    cleanup.release();
    fsyncDir(dirname(dest));
  } catch (err) {
    await cleanup.run();
    if ((err as NodeJS.ErrnoException).path === src) throw err;
    throw writeError(dest, err);
  }
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Up to this many files, a batch flushes each file (fsync) instead of the whole filesystem (syncfs). */
const SMALL_BATCH = 64;

function fsyncFile(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Flushes the filesystem that holds `path` (syncfs(2) through coreutils `sync -f`): one call
 * instead of an fsync per file, for a batch.
 */
export function syncFileSystem(path: string): void {
  const r = spawnSync('sync', ['-f', path], { stdio: 'ignore' });
  if (r.error || r.status !== 0) spawnSync('sync', [], { stdio: 'ignore' });
}

/**
 * Removes the temp files and staging directories (`.NAME.xenroot-tmp-PID-N`) in `dir` whose
 * writer PID is no longer alive. Returns the paths removed.
 */
export function sweepTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || Number(m[2]) === process.pid || pidAlive(Number(m[2]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Many files written as one: `put` writes each to a temp file (or into a staging directory when
 * its directory does not exist yet), `commit` flushes the filesystem once and renames everything
 * into place (staged directories in one rename each), `abort` removes what was written. Sync
 * calls on purpose: tens of thousands of small files cost a thread-pool round trip each through
 * the promise API (measured: 15 s against ~1 s for 20,000 files).
 */
export class AtomicBatch {
  private dirs = new Map<string, string>();
  private staged: { staging: string; dir: string }[] = [];
  private renames: { tmp: string; target: string }[] = [];
  /** Files written inside staging directories (for the per-file flush of a small batch). */
  private stagedFiles: string[] = [];
  /** Temp names that are symbolic links (never opened for a flush). */
  private links = new Set<string>();
  private readonly cleanup = onCleanup('files being written', () => this.abort());

  /**
   * Where files of `dir` go: `dir` itself when it exists; else the top-most missing directory is
   * made under a hidden staging name beside it and `dir` plainly inside that staging tree.
   */
  private ensureDir(dir: string): string {
    const known = this.dirs.get(dir);
    if (known) return known;
    let where: string;
    if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) where = dir;
    else {
      const parent = dirname(dir);
      const parentWhere = parent === dir ? parent : this.ensureDir(parent);
      if (parentWhere !== parent) {
        where = join(parentWhere, basename(dir));
        mkdirSync(where, { recursive: true });
      } else {
        where = tempPath(dir);
        mkdirSync(where);
        this.staged.push({ staging: where, dir });
      }
    }
    this.dirs.set(dir, where);
    return where;
  }

  /**
   * Whether `dir` did not exist when this batch first wrote into it (its files are then new: no
   * need to look for them on disk).
   */
  isNewDir(dir: string): boolean {
    const where = this.dirs.get(dir);
    return where !== undefined && where !== dir;
  }

  /**
   * Writes `data` (or a copy of `source`, or a symbolic link to `link`) for `target`, with `mode`
   * (and `owner`, when given; not for links); visible at commit. Returns the stat of the written
   * file (the rename keeps inode, size and mtime).
   */
  put(target: string, data: { text: string | Uint8Array } | { source: string } | { link: string }, mode: number, owner?: { uid: number; gid: number }): Stats {
    const dir = dirname(target);
    let tmp = '';
    try {
      const where = this.ensureDir(dir);
      // In a staging directory the file is written under its own name: the directory's rename publishes it.
      tmp = where === dir ? tempPath(target) : join(where, basename(target));
      if ('link' in data) {
        // A symbolic link (mode is meaningless for links on Linux); rename(2) replaces an old one atomically.
        symlinkSync(data.link, tmp);
        if (where === dir) {
          this.renames.push({ tmp, target });
          this.links.add(tmp); // nothing to flush: a link is its directory entry
        }
        return lstatSync(tmp);
      }
      let st: Stats;
      if ('text' in data) {
        // By descriptor: one path lookup per file (open), the rest on the fd.
        const fd = openSync(tmp, 'wx', mode);
        try {
          writeAll(fd, data.text);
          if (owner) fchownSync(fd, owner.uid, owner.gid); // before chmod: chown clears set-id bits
          fchmodSync(fd, mode); // open's mode is masked by the umask
          st = fstatSync(fd);
        } finally {
          closeSync(fd);
        }
      } else {
        copyFileSync(data.source, tmp, constants.COPYFILE_FICLONE);
        if (owner) chownSync(tmp, owner.uid, owner.gid);
        chmodSync(tmp, mode);
        st = statSync(tmp);
      }
      if (where === dir) this.renames.push({ tmp, target });
      else this.stagedFiles.push(tmp);
      return st;
    } catch (err) {
      if (tmp && dirname(tmp) === dir) rmSync(tmp, { force: true });
      throw writeError(target, err);
    }
  }

  /** Number of files waiting for commit. */
  get pending(): number {
    return this.renames.length + this.staged.length;
  }

  /**
   * Flushes, then renames every file and staged directory into place. A large batch is flushed
   * with one syncfs(2); a small one (at most SMALL_BATCH files) with an fsync per file, which
   * waits only for its own data, not for everything dirty on the filesystem. Either way every
   * byte is on disk before the first rename.
   */
  commit(): void {
    if (this.renames.length === 0 && this.staged.length === 0) return this.cleanup.release();
    const first = this.renames[0]?.target ?? this.staged[0]!.dir;
    const files = [...this.renames.filter((r) => !this.links.has(r.tmp)).map((r) => r.tmp), ...this.stagedFiles];
    if (files.length <= SMALL_BATCH) {
      for (const f of files) fsyncFile(f);
      // The entries of new directories inside a staging tree (their own rename is flushed with the journal).
      for (const d of new Set([...this.stagedFiles.map((f) => dirname(f)), ...this.staged.map((s) => s.staging)])) fsyncDir(d);
    } else syncFileSystem(dirname(first));
    // New directories first: a file renamed into place (a link, say) may name something inside them.
    for (const { staging, dir } of this.staged) {
      try {
        renameSync(staging, dir);
      } catch (err) {
        throw new DeployError(`cannot move ${staging} to ${dir}: ${(err as Error).message}`, {
          cause: err,
          hint: 'another process created it meanwhile; run it again',
        });
      }
    }
    this.staged = [];
    for (const { tmp, target } of this.renames) {
      try {
        renameSync(tmp, target);
      } catch (err) {
        throw writeError(target, err);
      }
    }
    this.renames = [];
    this.stagedFiles = [];
    this.links.clear();
    this.dirs.clear();
    this.cleanup.release();
  }

  /** Removes every temp file and staging directory not yet committed. */
  abort(): void {
    for (const { tmp } of this.renames) rmSync(tmp, { force: true });
    for (const { staging } of this.staged) rmSync(staging, { recursive: true, force: true });
    this.renames = [];
    this.staged = [];
    this.stagedFiles = [];
    this.links.clear();
    this.dirs.clear();
    this.cleanup.release();
  }
}

/** Removes a file, ignoring one that is not there; other errors as DeployError naming it. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new DeployError(`cannot remove ${path}: ${(err as Error).message}`, { cause: err });
  }
}
