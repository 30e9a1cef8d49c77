/**
 * The inventory's lock, one policy for every writer (proper-lockfile: a lock directory beside
 * the file, kept fresh while held, taken over once older than the stale time, so a holder killed
 * with SIGKILL cannot block the site for longer than that).
 *
 * - Waiting is never silent: after a second a line says who holds it ("PID 123, `xenroot sync`,
 *   since 10:42:07"), from the owner note the holder writes beside the lock.
 * - Only a held lock is waited for. Anything else (a read-only directory, no permission, a full
 *   disk, no directory) fails at once with an InventoryError naming the directory.
 * - A holder that was suspended (Ctrl-Z) past the stale time loses the lock to the next process:
 *   `assertLockHeld` finds that out (the owner note names someone else, or proper-lockfile saw its
 *   lock change) and throws a clear error before anything is applied, instead of proper-lockfile's
 *   uncaught ECOMPROMISED.
 * Stale time: $XENROOT_LOCK_STALE_MS (default 10 s).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InventoryError } from '../sys/errors.js';
import { writeFileAtomicSync } from '../sys/atomic.js';
import { throwIfInterrupted } from '../sys/lifetime.js';
import { log } from '../sys/log.js';

type Lockfile = typeof import('proper-lockfile');
const require = createRequire(import.meta.url);

interface OwnerNote {
  pid: number;
  command: string;
  since: string;
  token: string;
}

interface Held {
  token: string;
  compromised: Error | undefined;
}

/** Locks this process holds, by inventory file. */
const held = new Map<string, Held>();

function staleMs(): number {
  return Math.max(2000, Number(process.env.XENROOT_LOCK_STALE_MS ?? 10_000));
}

/** Where the holder notes who it is: beside the lock directory (proper-lockfile removes the directory with rmdir). */
function notePath(file: string): string {
  return `${file}.lock.owner`;
}

function readNote(file: string): OwnerNote | undefined {
  try {
    return JSON.parse(readFileSync(notePath(file), 'utf8')) as OwnerNote;
  } catch {
    return undefined;
  }
}

/** The one-line reason a lock could not be taken, for errors other than "held". */
function lockError(file: string, err: unknown): InventoryError {
  const code = (err as NodeJS.ErrnoException).code;
  const dir = dirname(file);
  const why: Record<string, string> = {
    EROFS: `the inventory's directory ${dir} is on a read-only filesystem`,
    EACCES: `no permission to write in the inventory's directory ${dir}`,
    EPERM: `no permission to write in the inventory's directory ${dir}`,
    ENOSPC: `the filesystem of ${dir} is full`,
    EDQUOT: `the disk quota of ${dir} is exhausted`,
    ENOENT: `the inventory's directory ${dir} does not exist`,
  };
  const reason = (code && why[code]) ?? `cannot lock the inventory: ${(err as Error).message}`;
  return new InventoryError(`${file}: ${reason}${code && why[code] ? ` (${code}); nothing was changed` : ''}`, {
    cause: err,
    hint: code === 'ENOENT' ? 'create it, or run `xenroot init`' : 'a command that changes the inventory writes its lock and the new file beside it',
  });
}

/**
 * Holds the inventory's lock while `fn` runs; releases it on every path out. Waits (saying so)
 * while another process holds it; throws InventoryError at once for any other failure.
 */
export async function withInventoryLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lockfile = require('proper-lockfile') as Lockfile;
  const stale = staleMs();
  const state: Held = { token: randomBytes(8).toString('hex'), compromised: undefined };
  const started = Date.now();
  let told = false;
  let release: () => Promise<void>;
  for (let attempt = 0; ; attempt++) {
    try {
      release = await lockfile.lock(file, {
        realpath: false,
        stale,
        update: Math.max(1000, Math.floor(stale / 2)),
        retries: 0,
        onCompromised: (err) => {
          state.compromised = err;
        },
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw lockError(file, err);
      if (!told && Date.now() - started >= 1000) {
        told = true;
        const n = readNote(file);
        const who = n ? `PID ${n.pid} (\`xenroot ${n.command}\`) since ${n.since}` : 'another xenroot process';
        log().warn({ file, holder: n?.pid }, `waiting for the inventory lock held by ${who}; a lock whose holder died is taken over after ${Math.round(stale / 1000)} s`);
      }
      throwIfInterrupted();
      await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 4)) + Math.random() * 20);
    }
  }
  held.set(file, state);
  try {
    const note: OwnerNote = { pid: process.pid, command: process.argv.slice(2).join(' ').slice(0, 200), since: new Date().toTimeString().slice(0, 8), token: state.token };
    try {
      writeFileAtomicSync(notePath(file), JSON.stringify(note) + '\n');
    } catch (err) {
      throw lockError(file, (err as { cause?: unknown }).cause ?? err);
    }
    if (told) log().info({ file, waitedMs: Date.now() - started }, 'got the inventory lock');
    return await fn();
  } finally {
    held.delete(file);
    if (readNote(file)?.token === state.token) rmSync(notePath(file), { force: true });
    await release().catch(() => undefined);
  }
}

/**
 * Throws when this process no longer holds the inventory's lock it took (it was suspended past
 * the stale time and another process took over): call it right before applying anything.
 */
export function assertLockHeld(file: string): void {
  const state = held.get(file);
  if (!state) return;
  const note = readNote(file);
  if (state.compromised || (note && note.token !== state.token)) {
    throw new InventoryError(
      `${file}: this command lost the inventory lock (it was stopped longer than the lock's ${Math.round(staleMs() / 1000)} s stale time${note && note.token !== state.token ? `, and PID ${note.pid} took it over` : ''}); nothing more was written`,
      { hint: 'run the command again; a command suspended with Ctrl-Z should be resumed (fg) promptly' },
    );
  }
}
