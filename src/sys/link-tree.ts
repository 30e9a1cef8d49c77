/** Copies of trees that are never written through: hard links where they can be, else real copies. */
import { rm } from 'node:fs/promises';
import { execa } from 'execa';

/**
 * Copies the directory `from` to `to` (which must not exist) as hard links (`cp -al`) when both lie
 * on one filesystem, else as a real copy (`cp -a`): a /tmp on a tmpfs apart from the cache (Debian
 * 13's default, and the fresh-machine root's) makes link(2) fail with EXDEV. The partial tree a
 * failed `cp -al` leaves is removed first, or `cp -a` would copy into it (`to/BASENAME`).
 * Callers replace files of the copy, never write into them (a link shares the cached file).
 * Throws execa's error when the copy fails too.
 */
export async function linkTree(from: string, to: string): Promise<void> {
  const r = await execa('cp', ['-al', from, to], { reject: false });
  if (r.exitCode === 0) return;
  await rm(to, { recursive: true, force: true });
  await execa('cp', ['-a', from, to]);
}
