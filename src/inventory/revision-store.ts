/**
 * Where the facts about published revisions live: xenroot's state directory (stateDir()), one
 * folder per revision store (an image's revisions directory), named IMAGE-HASH:
 *
 *   STATE/revisions/IMAGE-HASH/index.json            the RevisionIndex (records, tests)
 *   STATE/revisions/IMAGE-HASH/REV.manifest.gz       the tree manifest of revision REV
 *   STATE/revisions/IMAGE-HASH/REV.test-N.log        console transcripts of `xenroot test IMAGE@REV`
 *   STATE/revisions/IMAGE-HASH/rollouts/*.json       one RolloutRecord per rollout or rollback
 *
 * Every write is atomic (src/sys/atomic.ts) and happens under the inventory's lock (the callers
 * hold it), so two commands never interleave their read-modify-write of an index.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { InventoryError } from '../sys/errors.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { revisionStore, stateDir } from './paths.js';
import type { InventoryData, Site } from './schema.js';
import type { RevisionIndex, RolloutRecord } from './revisions.js';

/**
 * The state folder of an image's revisions; under `root` (a `--root DIR` of the writing commands,
 * as DESTDIR) when one is given.
 */
export function revisionStateDir(site: Site, imageName: string, root?: string): string {
  const store = revisionStore(site, imageName);
  const dir = join(stateDir(undefined), 'revisions', `${imageName}-${createHash('sha1').update(store).digest('hex').slice(0, 10)}`);
  return root ? join(root, dir) : dir;
}

export function revisionIndexPath(site: Site, imageName: string, root?: string): string {
  return join(revisionStateDir(site, imageName, root), 'index.json');
}

/** A fresh index (no revision yet). */
export function emptyIndex(site: Site, imageName: string): RevisionIndex {
  return { version: 1, image: imageName, store: revisionStore(site, imageName), next: 1, revisions: [] };
}

/** The index of an image's revisions, or undefined when none was ever published. Throws InventoryError for an unreadable one. */
export function readRevisionIndex(site: Site, imageName: string, root?: string): RevisionIndex | undefined {
  const file = revisionIndexPath(site, imageName, root);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InventoryError(`cannot read the revision record ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const index = JSON.parse(text) as RevisionIndex;
    if (index.version !== 1 || !Array.isArray(index.revisions)) throw new Error('not a version 1 revision index');
    return index;
  } catch (err) {
    throw new InventoryError(`${file} is not a valid revision record: ${(err as Error).message}`, {
      hint: 'it is written by `xenroot image publish`; restore it from a backup, or move it away to start the revisions of this image anew',
    });
  }
}

/** The indexes of every image of the model that has revisions (those under `root` when one is given). */
export function readRevisionIndexes(data: InventoryData, root?: string): Map<string, RevisionIndex> {
  const out = new Map<string, RevisionIndex>();
  for (const name of Object.keys(data.images)) {
    const index = readRevisionIndex(data.site, name, root);
    if (index) out.set(name, index);
  }
  return out;
}

/** Writes an index atomically (under the inventory lock, which the caller holds). */
export async function writeRevisionIndex(site: Site, index: RevisionIndex, root?: string): Promise<void> {
  await writeFileAtomic(revisionIndexPath(site, index.image, root), JSON.stringify(index, null, 1) + '\n', { mkdirs: true });
}

/** Where the manifest of revision REV is kept (gzip of the text manifest). */
export function manifestFile(site: Site, imageName: string, revision: number, root?: string): string {
  return join(revisionStateDir(site, imageName, root), `${revision}.manifest.gz`);
}

export async function writeTreeManifest(site: Site, imageName: string, revision: number, text: string, root?: string): Promise<void> {
  await writeFileAtomic(manifestFile(site, imageName, revision, root), gzipSync(text), { mkdirs: true });
}

/** The manifest text of a revision, or undefined when there is none. */
export function readTreeManifest(site: Site, imageName: string, revision: number, root?: string): string | undefined {
  try {
    return gunzipSync(readFileSync(manifestFile(site, imageName, revision, root))).toString('utf8');
  } catch {
    return undefined;
  }
}

/** A fresh console log path for a test of IMAGE@REV. */
export function testLogPath(site: Site, imageName: string, revision: number, nth: number): string {
  return join(revisionStateDir(site, imageName), `${revision}.test-${nth}.log`);
}

/** Records one rollout or rollback (a file of its own: records are never rewritten); under `root` when given. */
export async function writeRolloutRecord(site: Site, rec: RolloutRecord, root?: string): Promise<string> {
  const file = join(revisionStateDir(site, rec.image, root), 'rollouts', `${rec.date.replace(/[:.]/g, '-')}-${process.pid}-${rec.action}.json`);
  await writeFileAtomic(file, JSON.stringify(rec) + '\n', { mkdirs: true });
  return file;
}

/** Every recorded rollout and rollback of an image, oldest first. */
export function readRolloutRecords(site: Site, imageName: string): RolloutRecord[] {
  const dir = join(revisionStateDir(site, imageName), 'rollouts');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch {
    return [];
  }
  const out: RolloutRecord[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, n), 'utf8')) as RolloutRecord);
    } catch {
      /* a record being written */
    }
  }
  return out;
}
