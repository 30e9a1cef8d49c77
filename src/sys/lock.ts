/**
 * The one inter-process lock of xenroot (the inventory, the kernel and image caches): a lock file
 * whose content names its holder, judged by PID + process start time like every other sweep here.
 *
 * - Taking it: the holder's note (PID, start time, command, since, a random token) is written to a
 *   temp file and hard-linked to `PATH` (link(2) fails with EEXIST when it exists), so the lock
 *   never exists half-written and exactly one process creates it.
 * - A lock whose holder PID is gone, or whose PID now names another process (a different start
 *   time: PID reuse), is taken over at once. A live holder is waited for, however long it works.
 * - A holder that is stopped (Ctrl-Z, SIGSTOP: state T) is waited for up to the stale time
 *   ($XENROOT_LOCK_STALE_MS, default 10 s) as seen by the waiter, then its lock is taken over;
 *   the stopped holder finds out with `lockLost` before it applies anything. A lock that names no
 *   holder (a lock directory of an older xenroot) is treated the same way.
 * - Release is an entry of the lifetime registry (sys/lifetime.ts): the normal path runs it, the
 *   signal policy and the exit hook run it otherwise. No signal handlers of its own.
 * Taking over is rename-then-check: the stale lock is renamed to a private name and removed only
 * if it is still the one judged stale; otherwise it is linked back.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempPath } from './atomic.js';
import { onCleanup, throwIfInterrupted } from './lifetime.js';
import { processInfo } from './proc.js';

/** What a lock file says about its holder (JSON, one line). */
export interface LockNote {
  pid: number;
  /** Start time of the holder in clock ticks since boot (/proc/PID/stat field 22). */
  start: string;
  /** The holder's command line without the program (`sync --root /x`), at most 200 characters. */
  command: string;
  /** Local time the lock was taken, HH:MM:SS. */
  since: string;
  token: string;
}

export interface LockOptions {
  /** Turns a failure other than "held by someone" (EROFS, EACCES, ENOSPC, ENOENT, ...) into the error to throw. */
  fail: (err: NodeJS.ErrnoException) => Error;
  /** Called once, after a second of waiting, with the holder's note (undefined: it names none). */
  onWait?: (holder: LockNote | undefined, staleMs: number) => void;
  /** Called once the lock is taken after `onWait` was called, with the wait in ms. */
  onTaken?: (waitedMs: number) => void;
}

/** Tokens of the locks this process holds, by lock path. */
const held = new Map<string, string>();

/** How long a stopped holder (or a lock naming none) is waited for before its lock is taken over (ms). */
export function lockStaleMs(): number {
  const v = Number(process.env.XENROOT_LOCK_STALE_MS || 10_000);
  return Math.max(1000, Number.isFinite(v) ? v : 10_000);
}

/** The note of the lock at `path`; undefined when there is none or it names no holder. */
export function readLockNote(path: string): LockNote | undefined {
  try {
    const n = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockNote>;
    return typeof n.pid === 'number' && typeof n.token === 'string' ? (n as LockNote) : undefined;
  } catch {
    return undefined;
  }
}

type Verdict = 'live' | 'stale' | 'stopped';

/** Whether the holder a note names still holds it: gone or reused PID = stale; stopped = stopped. */
function judge(note: LockNote | undefined): Verdict {
  if (!note) return 'stopped';
  const info = processInfo(note.pid);
  if (!info || info.state === 'Z' || info.start !== note.start) return 'stale';
  return info.state === 'T' || info.state === 't' ? 'stopped' : 'live';
}

/** Creates the lock with `note`; false when it exists. Throws the filesystem error otherwise. */
function create(path: string, note: LockNote): boolean {
  const tmp = tempPath(path);
  try {
    // Inside the try: on a full disk the open succeeds and the write fails, and the temp must go.
    writeFileSync(tmp, JSON.stringify(note) + '\n', { mode: 0o644 });
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Removes the lock at `path` if it is still the one `seen` (undefined: one naming no holder). */
function takeOver(path: string, seen: LockNote | undefined): void {
  const aside = tempPath(path);
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const now = readLockNote(aside);
  if (now?.token !== seen?.token) {
    // Someone took it between the look and the rename: give it back.
    try {
      linkSync(aside, path);
    } catch {
      // a third process holds it now; the one whose lock this was finds out with lockLost
    }
  }
  rmSync(aside, { recursive: true, force: true });
}

/** takeOver, with a filesystem failure (EROFS, EACCES, ...) turned into the caller's error. */
function takeOverOr(path: string, seen: LockNote | undefined, opts: LockOptions): void {
  try {
    takeOver(path, seen);
  } catch (err) {
    throw opts.fail(err as NodeJS.ErrnoException);
  }
}

function release(path: string, token: string): void {
  if (held.get(path) === token) held.delete(path);
  if (readLockNote(path)?.token !== token) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Holds the lock at `path` (a file, created beside whatever it guards) while `fn` runs and
 * releases it on every way out. Waits while a live holder has it (polling, 10-200 ms, stopping at
 * an interrupt); takes over a lock whose holder is gone, reused or stopped past `lockStaleMs()`.
 * Errors: whatever `opts.fail` makes of a filesystem failure (nothing is left behind), the
 * InterruptedError of a handled signal while waiting, and whatever `fn` throws.
 */
export async function withLock<T>(path: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const self = processInfo(process.pid);
  const note: LockNote = {
    pid: process.pid,
    start: self?.start ?? '',
    command: process.argv.slice(2).join(' ').slice(0, 200),
    since: new Date().toTimeString().slice(0, 8),
    token: randomBytes(8).toString('hex'),
  };
  const staleMs = lockStaleMs();
  const began = Date.now();
  let told = false;
  let stoppedSince: { token: string | undefined; at: number } | undefined;
  for (let attempt = 0; ; attempt++) {
    throwIfInterrupted();
    let got: boolean;
    try {
      got = create(path, note);
    } catch (err) {
      throw opts.fail(err as NodeJS.ErrnoException);
    }
    if (got) break;
    const holder = readLockNote(path);
    const verdict = judge(holder);
    if (verdict === 'stale') {
      takeOverOr(path, holder, opts);
      continue;
    }
    if (verdict === 'stopped') {
      if (!stoppedSince || stoppedSince.token !== holder?.token) stoppedSince = { token: holder?.token, at: Date.now() };
      else if (Date.now() - stoppedSince.at >= staleMs) {
        takeOverOr(path, holder, opts);
        continue;
      }
    } else stoppedSince = undefined;
    if (!told && Date.now() - began >= 1000) {
      told = true;
      opts.onWait?.(holder, staleMs);
    }
    await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 4)) + Math.random() * 20);
  }
  held.set(path, note.token);
  const entry = onCleanup(`lock ${path}`, () => release(path, note.token), { sync: () => release(path, note.token) });
  try {
    if (told) opts.onTaken?.(Date.now() - began);
    return await fn();
  } finally {
    await entry.run();
  }
}

/**
 * Whether this process lost a lock it took with `withLock` (it was stopped past the stale time
 * and another process took it over): undefined while it still holds it (or never took it),
 * otherwise the note of the lock there now (`{}` when there is none).
 */
export function lockLost(path: string): Partial<LockNote> | undefined {
  const token = held.get(path);
  if (token === undefined) return undefined;
  const now = readLockNote(path);
  return now?.token === token ? undefined : (now ?? {});
}
