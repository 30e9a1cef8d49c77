/**
 * The inventory's inter-process lock (proper-lockfile: a lock directory beside the file, taken
 * over when its holder died and it went stale). Writers of the inventory and of the files
 * generated from it hold it. Kept apart from the store so that a command that only locks (a
 * no-op sync) loads neither the schema nor a YAML parser.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { InventoryError } from '../sys/errors.js';

const require = createRequire(import.meta.url);
type Lockfile = typeof import('proper-lockfile');

/** Lock settings: a lock older than `stale` ms is taken over (its holder died). */
function lockOptions() {
  const stale = Number(process.env.XENROOT_LOCK_STALE_MS ?? 10_000);
  return {
    realpath: false,
    stale,
    update: Math.max(1000, Math.floor(stale / 2)),
    retries: { retries: 1200, factor: 1.2, minTimeout: 10, maxTimeout: 100, randomize: true },
  };
}

/** Holds the inventory's lock while `fn` runs; releases it on every path out. */
export async function withInventoryLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lockfile = require('proper-lockfile') as Lockfile;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, lockOptions());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED')
      throw new InventoryError(`${file}: the inventory is locked by another xenroot process`, {
        hint: `wait for it to finish; a lock left by a crashed process (${file}.lock) expires by itself`,
      });
    if (code === 'ENOENT')
      throw new InventoryError(`${dirname(file)}: the inventory's directory does not exist`, { hint: 'create it, or run `xenroot init`' });
    throw new InventoryError(`${file}: cannot lock the inventory: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
