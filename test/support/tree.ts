/**
 * Copies of cached trees for tests: hard links where the copy lies on the cache's filesystem (fast,
 * and the cache is never changed through them: tests replace files, never write into them), else a
 * real copy. A fresh machine's /tmp may be a tmpfs apart from the repository's .cache (Debian 13
 * mounts one by default; scripts/fresh-machine.sh does too): `cp -al` and link(2) then fail with
 * EXDEV, which a warm machine with /tmp on the root filesystem never shows. Trees: `linkTree` of
 * src/sys/link-tree.ts, which the tiny image's builder uses too.
 */
import { copyFile, link } from 'node:fs/promises';

/** Copies the file `from` to `to`: a hard link if both lie on one filesystem, else a copy. */
export async function linkFile(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
  }
}
