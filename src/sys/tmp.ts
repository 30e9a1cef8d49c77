/**
 * Private temp directories whose removal is registered with the cleanup registry the moment they
 * exist: removed by their owner when done, by the signal policy on an interrupt, and once more at
 * process exit through the registry's exit sweep (a step still in flight when an interrupt removed it may have made it again).
 * Never for a directory that may hold a mount (an image session unmounts and removes its own
 * directories, non-recursively).
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { atExit, onCleanup, throwIfInterrupted } from './lifetime.js';

export interface TempDir {
  readonly path: string;
  /** Removes the directory and what is in it (once). */
  remove(): Promise<void>;
  /** Keeps it: nothing removes it any more (for logs the caller wants to read). */
  keep(): void;
}

/** Every temp dir this process made and has not been asked to keep: removed again at exit. */
const made = new Set<string>();
let sweepRegistered = false;

/** Makes PARENT/PREFIXxxxxxx (parent: $TMPDIR or /tmp) and registers its removal. */
export async function makeTempDir(prefix: string, parent: string = tmpdir()): Promise<TempDir> {
  throwIfInterrupted();
  const path = await mkdtemp(join(parent, prefix));
  made.add(path);
  if (!sweepRegistered) {
    sweepRegistered = true;
    atExit(() => {
      for (const p of made) rmSync(p, { recursive: true, force: true });
    });
  }
  const c = onCleanup(`temp dir ${path}`, () => rm(path, { recursive: true, force: true }), { sync: () => rmSync(path, { recursive: true, force: true }) });
  return {
    path,
    remove: () => c.run(),
    keep: () => {
      c.release();
      made.delete(path);
    },
  };
}
