/**
 * The inventory's lock: the one lock of xenroot (sys/lock.ts: a lock file naming its holder by PID
 * and start time, `INVENTORY.lock`), with the inventory's messages.
 *
 * - Waiting is never silent: after a second a line says who holds it ("PID 123 (`xenroot sync`)
 *   since 10:42:07"), from the note in the lock file.
 * - Only a held lock is waited for. Anything else (a read-only directory, no permission, a full
 *   disk, no directory) fails at once with an InventoryError naming the directory.
 * - A holder that was stopped (Ctrl-Z) past the stale time loses the lock to the next process:
 *   `assertLockHeld` finds that out and throws a clear error before anything is applied.
 */
import { dirname } from 'node:path';
import { InventoryError } from '../sys/errors.js';
import { lockLost, lockStaleMs, withLock } from '../sys/lock.js';
import { log } from '../sys/log.js';

function lockPath(file: string): string {
  return `${file}.lock`;
}

/** The one-line reason a lock could not be taken, for errors other than "held". */
function lockError(file: string, err: NodeJS.ErrnoException): InventoryError {
  const code = err.code;
  const dir = dirname(file);
  const why: Record<string, string> = {
    EROFS: `the inventory's directory ${dir} is on a read-only filesystem`,
    EACCES: `no permission to write in the inventory's directory ${dir}`,
    EPERM: `no permission to write in the inventory's directory ${dir}`,
    ENOSPC: `the filesystem of ${dir} is full`,
    EDQUOT: `the disk quota of ${dir} is exhausted`,
    ENOENT: `the inventory's directory ${dir} does not exist`,
  };
  const reason = (code && why[code]) ?? `cannot lock the inventory: ${err.message}`;
  return new InventoryError(`${file}: ${reason}${code && why[code] ? ` (${code}); nothing was changed` : ''}`, {
    cause: err,
    hint: code === 'ENOENT' ? 'create it, or run `xenroot init`' : 'a command that changes the inventory writes its lock and the new file beside it',
  });
}

/**
 * Holds the inventory's lock while `fn` runs; releases it on every path out. Waits (saying so)
 * while another live process holds it; takes over the lock of a dead (or reused) PID at once;
 * throws InventoryError at once for any other failure.
 */
export async function withInventoryLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  return withLock(
    lockPath(file),
    {
      fail: (err) => lockError(file, err),
      onWait: (n, staleMs) => {
        const who = n ? `PID ${n.pid} (\`xenroot ${n.command}\`) since ${n.since}` : 'another xenroot process';
        log().warn({ file, holder: n?.pid }, `waiting for the inventory lock held by ${who}; a stopped holder's lock is taken over after ${Math.round(staleMs / 1000)} s`);
      },
      onTaken: (waitedMs) => log().info({ file, waitedMs }, 'got the inventory lock'),
    },
    fn,
  );
}

/**
 * Throws when this process no longer holds the inventory's lock it took (it was stopped past
 * the stale time and another process took over): call it right before applying anything.
 */
export function assertLockHeld(file: string): void {
  const now = lockLost(lockPath(file));
  if (!now) return;
  throw new InventoryError(
    `${file}: this command lost the inventory lock (it was stopped longer than the lock's ${Math.round(lockStaleMs() / 1000)} s stale time${now.pid ? `, and PID ${now.pid} took it over` : ''}); nothing more was written`,
    { hint: 'run the command again; a command suspended with Ctrl-Z should be resumed (fg) promptly' },
  );
}
