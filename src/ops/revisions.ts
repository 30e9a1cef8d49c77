/**
 * Image revisions: `xenroot image publish` freezes an image's working directory (or
 * loop image file) as revision IMAGE@REV, `image show` lists them with their tests and the nodes
 * that boot each, `image verify` proves a revision is still what was published, `image prune`
 * removes those no node boots or may roll back to; `xenroot test IMAGE@REV` boots one and its
 * result is recorded here.
 *
 * A revision is a read-only tree at STORE/REV (see src/image/snapshot.ts for how it is copied),
 * exported at its own path, with its kernel and initrds staged at BOOTDIR/IMAGE@REV/. What a
 * revision is (files, size, manifest sha256, staged boot files, tests) is recorded in the state
 * directory (inventory/revision-store.ts); which node boots which revision is the inventory's.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DeployError, ImageError, InventoryError, UsageError } from '../sys/errors.js';
import { sweepTempFiles, tempPath } from '../sys/atomic.js';
import { onCleanup } from '../sys/lifetime.js';
import { log } from '../sys/log.js';
import { withImageSession } from '../image/session.js';
import { manifestDiff, snapshotTree, treeManifest } from '../image/snapshot.js';
import { requireEntry } from '../inventory/lookup.js';
import { bootFiles, imageRef, parseImageRef, revisionExport, revisionRoot, revisionStore } from '../inventory/paths.js';
import type { BootTarget, Image, InitrdBuilder, InventoryData, Site } from '../inventory/schema.js';
import { loadInventory } from './steps/store.js';
import { withInventoryLock } from '../inventory/lock.js';
import {
  emptyIndex,
  readRevisionIndex,
  readRevisionIndexes,
  readRolloutRecords,
  readTreeManifest,
  testLogPath,
  writeRevisionIndex,
  writeTreeManifest,
} from '../inventory/revision-store.js';
import { lastPass, liveRevisions, revisionImage, revisionsInUse, type RevisionIndex, type RevisionRecord, type RolloutRecord, type TestRecord } from '../inventory/revisions.js';
import { stageBootFiles } from './build-initrd.js';
import { resolveUri } from '../hypervisor/connect.js';
import { targetForUri } from '../hypervisor/types.js';
import { syncUnlocked } from './steps/sync-apply.js';
import type { SyncResult } from './sync.js';
import { sha256File } from '../sys/hash.js';
import { under } from '../deploy/manifest.js';
import { removeOrphanSets } from '../deploy/switches.js';

/** `IMAGE@REV` of the inventory with its record (the records under `root`, --root DIR, when given); InventoryError naming what is missing. */
export function requireRevision(data: InventoryData, ref: string, root?: string): { image: string; revision: number; index: RevisionIndex; record: RevisionRecord } {
  const parsed = parseImageRef(ref);
  if (!parsed) throw new UsageError(`"${ref}" is not IMAGE@REV`, { hint: 'name a published revision such as terminal@2 (`xenroot image show IMAGE` lists them)' });
  requireEntry(data, 'image', parsed.image);
  const index = readRevisionIndex(data.site, parsed.image, root);
  const record = liveRevisions(index).find((r) => r.revision === parsed.revision);
  if (!index || !record) {
    const live = liveRevisions(index).map((r) => r.revision);
    throw new InventoryError(`image ${parsed.image} has no revision ${parsed.revision}${index?.revisions.some((r) => r.revision === parsed.revision) ? ' any more (it was pruned)' : ''}`, {
      hint: live.length ? `its revisions: ${live.map((n) => `${parsed.image}@${n}`).join(', ')}` : `publish one with \`xenroot image publish ${parsed.image}\``,
    });
  }
  return { ...parsed, index, record };
}

/**
 * The targets a revision needs staged for some nodes: pxe for clients; for guests xen (what their
 * .cfg and .xml name) and the flavour their host runs (qemu:// runs the QEMU test domain).
 */
export function nodeTargets(data: InventoryData, nodes: { kind: 'client' | 'guest'; name: string }[]): BootTarget[] {
  const out = new Set<BootTarget>();
  for (const n of nodes) {
    if (n.kind === 'client') out.add('pxe');
    else {
      out.add('xen');
      out.add(targetForUri(resolveUri({ guest: data.guests[n.name]?.connect, site: data.site.connect })));
    }
  }
  return [...out];
}

/** The targets the nodes of an image need (see nodeTargets). */
export function neededTargets(data: InventoryData, image: string): BootTarget[] {
  return nodeTargets(data, [
    ...Object.entries(data.guests).filter(([, g]) => g.image === image).map(([name]) => ({ kind: 'guest' as const, name })),
    ...Object.entries(data.clients).filter(([, c]) => c.image === image).map(([name]) => ({ kind: 'client' as const, name })),
  ]);
}

/**
 * Stages the kernel and the initrds of `targets` for a revision (BOOTDIR/IMAGE@REV/, built from
 * the revision's own tree) where they are not recorded yet; records builder and initrd sha256.
 * Returns whether the record changed (the caller writes the index).
 */
export async function ensureStaged(
  site: Site,
  data: InventoryData,
  image: string,
  rec: RevisionRecord,
  targets: BootTarget[],
  opts: { builder?: InitrdBuilder; progress?: boolean; /** Everything read and written under this directory (`--root DIR`). */ root?: string } = {},
): Promise<boolean> {
  let changed = false;
  const at = opts.root ? { ...site, bootDir: under(opts.root, site.bootDir) } : site;
  const revImage = { ...revisionImage(data, image, rec), ...(opts.root ? { root: under(opts.root, rec.path) } : {}) };
  const ref = imageRef(image, rec.revision);
  for (const target of targets) {
    const files = bootFiles(at, ref, revImage, target);
    if (rec.staged[target] && existsSync(files.initrd) && existsSync(files.kernel)) continue;
    // Each revision has a boot dir of its own (BOOTDIR/IMAGE@REV): two revisions never share a staged file name.
    const staged = await stageBootFiles(at, ref, revImage, target, { root: under(opts.root, rec.path), progress: !!opts.progress, ...(opts.builder ? { builder: opts.builder } : {}) });
    rec.staged[target] = { builder: staged.builder, initrdSha256: await sha256File(staged.initrd) };
    changed = true;
  }
  return changed;
}

export interface PublishOptions {
  /** Publish from this directory instead of the image's own (its working directory). */
  from?: string;
  /** Publish from this loop image file instead of the image's own. */
  fromFile?: string;
  /** Boot targets to stage besides those its nodes need (xen for guests, pxe for clients). */
  targets?: BootTarget[];
  builder?: InitrdBuilder;
  /** Count what would be copied and show the file diff; publish nothing. */
  dryRun?: boolean;
  diff?: boolean;
  /** false: do not write the generated files (exports, TFTP tree) now; the next sync does. */
  sync?: boolean;
  /**
   * Every file publish writes goes under this directory, as DESTDIR does (`sync --root`): the
   * revision tree, its records, the staged kernel and initrds, exports, DHCP, TFTP tree. What the
   * files say names the site's own paths; no reloads.
   */
  root?: string;
  /** false: write the files but run no exportfs -r and restart no DHCP server (as `sync --no-reload`). */
  reload?: boolean;
  progress?: boolean;
}

export interface PublishResult {
  image: string;
  revision: number;
  ref: string;
  dryRun: boolean;
  source: { root?: string; file?: string };
  path: string;
  export: string;
  /** The revision its unchanged files are hard links to. */
  linkedTo: number | undefined;
  files: number;
  bytes: number;
  /** Disk bytes the revision added (what changed since linkedTo, plus its directories). */
  addedBytes: number;
  /** Regular files copied (not linked), as rsync counted them. */
  copiedFiles: number;
  manifestSha256: string | undefined;
  staged: RevisionRecord['staged'];
  /** The generated files written (exports, TFTP tree): as `xenroot sync` reports them. */
  sync: Pick<SyncResult, 'counts' | 'changes' | 'warnings' | 'dryRun'> | undefined;
  ms: { copy: number; manifest: number; stage: number; total: number };
}

function sourceOf(image: Image, opts: PublishOptions): { root?: string; file?: string } {
  if (opts.from && opts.fromFile) throw new UsageError('give --from DIR or --from-file IMG, not both');
  if (opts.from) return { root: opts.from };
  if (opts.fromFile) return { file: opts.fromFile };
  return image.root ? { root: image.root } : { file: image.file as string };
}

/** Removes revision trees of the store that no record names (a publish killed after its copy, a prune killed before its removal). */
function sweepStore(store: string, index: RevisionIndex): string[] {
  const removed = sweepTempFiles(store);
  const live = new Set(liveRevisions(index).map((r) => String(r.revision)));
  let names: string[] = [];
  try {
    names = readdirSync(store);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n) || live.has(n)) continue;
    rmSync(join(store, n), { recursive: true, force: true });
    removed.push(join(store, n));
  }
  return removed;
}

/**
 * `xenroot image publish NAME`: freezes the image's current content as revision NAME@REV (REV =
 * the next number), hard-linked against the previous revision, stages its kernel and the initrds
 * its nodes need, records it, and writes the generated files (exports, TFTP tree) as sync does.
 *
 * Plan outside the lock, apply inside it: the copy (rsync --link-dest) and its manifest go into a
 * staging directory of this process (`STORE/.publish.xenroot-tmp-PID-N`) with no lock held, so
 * every other writer (a guest's first-boot MAC pin included) goes on meanwhile. Then, under the
 * lock, the inventory and the revision index are read again: the image must still be there with
 * the same kernel version; the revision number is the index's next at that moment (a concurrent
 * publish of the same image gets its own), the staging directory is renamed to STORE/REV and the
 * record written. The kernel and initrds are staged next without the lock (an initrd build can take
 * a minute; the boot dir BOOTDIR/IMAGE@REV is this revision's own), and a last short hold records
 * them and writes the generated files. An interrupt removes the half-made copy.
 * With `root` (--root DIR) every one of those writes goes under DIR (the records too), and the
 * previous revision and the records are read there: a rehearsal that leaves the site untouched.
 * Errors: UsageError (both --from and --from-file), InventoryError (no such image, no kver, the image
 * changed meanwhile), ImageError (no kernel in the source), DeployError (a write failed).
 */
export async function publishImage(inventoryFile: string, name: string, opts: PublishOptions = {}): Promise<PublishResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  // Plan: read once, with no lock (writers replace the file atomically).
  const planned = (await loadInventory(inventoryFile)).data;
  const image = requireEntry(planned, 'image', name);
  const site = planned.site;
  const kver = image.kver;
  if (!kver) throw new InventoryError(`images.${name}.kver is not set`, { hint: `set it with \`xenroot image add ${name} ... --kver VER\` or edit the inventory` });
  const source = sourceOf(image, opts);
  const root = opts.root;
  const planIndex = readRevisionIndex(site, name, root) ?? emptyIndex(site, name);
  const store = revisionStore(site, name);
  const prev = liveRevisions(planIndex).filter((r) => existsSync(under(root, r.path))).at(-1);
  const prevPath = prev && under(root, prev.path);

  if (opts.dryRun) {
    const revision = planIndex.next;
    const path = revisionRoot(site, name, revision);
    const from = source.root;
    const count = async (dir: string) => (await snapshotTree(dir, under(root, path), { ...(prevPath ? { linkDest: prevPath } : {}), dryRun: true })).copiedFiles;
    const copied = from ? await count(from) : await withImageSession({ file: source.file as string }, { chroot: false }, (s) => count(s.root));
    const record = newRecord(revision, startedAt, source, path, revisionExport(site, name, revision), kver, undefined, prev?.revision);
    const sync = opts.sync === false ? undefined : await withInventoryLock(inventoryFile, () => publishSync(inventoryFile, name, record, { ...planIndex, next: revision + 1, revisions: [...planIndex.revisions, record] }, opts));
    return { image: name, revision, ref: imageRef(name, revision), dryRun: true, source, path, export: record.export, linkedTo: prev?.revision, files: 0, bytes: 0, addedBytes: 0, copiedFiles: copied, manifestSha256: undefined, staged: {}, sync, ms: { copy: 0, manifest: 0, stage: 0, total: Math.round(performance.now() - t0) } };
  }

  // The heavy I/O, no lock held: copy and manifest into this process's own staging directory.
  mkdirSync(under(root, store), { recursive: true, mode: 0o755 });
  const tmp = tempPath(join(under(root, store), 'publish'));
  const undo = onCleanup(`revision being published ${tmp}`, () => rm(tmp, { recursive: true, force: true }), { sync: () => rmSync(tmp, { recursive: true, force: true }) });
  try {
    const copy = async (from: string): Promise<{ copied: number; ms: number; manifest: ReturnType<typeof treeManifest>; manifestMs: number }> => {
      log().info({ step: 'copy', from, to: tmp, linkDest: prevPath }, `copying ${from} for ${name}${prev ? ` (unchanged files linked to ${name}@${prev.revision})` : ''}`);
      const s = await snapshotTree(from, tmp, prevPath ? { linkDest: prevPath } : {});
      const tm = performance.now();
      const prevText = prev ? readTreeManifest(site, name, prev.revision, root) : undefined;
      // Files of the source changed since the previous copy began are checked by content (see treeManifest).
      // (50 ms: the kernel's coarse clock may stamp a change up to a tick before the moment it happened)
      const since = Date.parse(prev?.startedAt ?? prev?.publishedAt ?? '') - 50;
      const manifest = treeManifest(tmp, prevPath && prevText ? { root: prevPath, text: prevText } : undefined, prev ? { root: from, since } : undefined);
      const manifestMs = Math.round(performance.now() - tm);
      if (!existsSync(join(tmp, 'boot', `vmlinuz-${kver}`)))
        throw new ImageError(`${from} has no /boot/vmlinuz-${kver}: nothing of it was published`, { hint: `install that kernel into the image, or set images.${name}.kver to the kernel it has` });
      return { copied: s.copiedFiles, ms: s.ms, manifest, manifestMs };
    };
    const c = source.root ? await copy(source.root) : await withImageSession({ file: source.file as string }, { chroot: false }, (s) => copy(s.root));

    // Apply: under the lock, read again, check, number, rename, record.
    const { record, index, data } = await withInventoryLock(inventoryFile, async () => {
      const now = (await loadInventory(inventoryFile)).data;
      const img = now.images[name];
      if (!img) throw new InventoryError(`image ${name} was removed while it was being copied: nothing of it was published`);
      if (img.kver !== kver || revisionStore(now.site, name) !== store)
        throw new InventoryError(`images.${name}.kver or the site's export root changed while the image was being copied: nothing of it was published`, { hint: 'publish it again' });
      const index = readRevisionIndex(site, name, root) ?? emptyIndex(site, name);
      for (const r of sweepStore(under(root, store), index)) log().warn(`removed ${r}, left by an interrupted publish or prune`);
      const revision = index.next;
      const path = revisionRoot(site, name, revision);
      const record = newRecord(revision, startedAt, source, path, revisionExport(site, name, revision), kver, c.manifest, prev?.revision);
      await writeTreeManifest(site, name, revision, c.manifest.text, root);
      await rename(tmp, under(root, path));
      undo.release();
      const next: RevisionIndex = { ...index, next: revision + 1, revisions: [...index.revisions, record] };
      // Recorded before staging: a failed initrd build leaves a published revision that rollout or test stages later.
      await writeRevisionIndex(site, next, root);
      return { record, index: next, data: now };
    });

    // Boot files, no lock held: BOOTDIR/IMAGE@REV belongs to this revision alone.
    const ts = performance.now();
    const targets = [...new Set([...neededTargets(data, name), ...(opts.targets ?? [])])];
    const staged = await ensureStaged(data.site, data, name, record, targets, { ...(opts.builder ? { builder: opts.builder } : {}), progress: !!opts.progress, ...(root ? { root } : {}) });
    const stageMs = Math.round(performance.now() - ts);
    const sync = await withInventoryLock(inventoryFile, async () => {
      if (staged) {
        const latest = readRevisionIndex(site, name, root) ?? index;
        const rec = latest.revisions.find((r) => r.revision === record.revision);
        if (rec) {
          rec.staged = { ...rec.staged, ...record.staged };
          await writeRevisionIndex(site, latest, root);
        }
      }
      return opts.sync === false ? undefined : publishSync(inventoryFile, name, record, undefined, opts);
    });
    return {
      image: name,
      revision: record.revision,
      ref: imageRef(name, record.revision),
      dryRun: false,
      source,
      path: record.path,
      export: record.export,
      linkedTo: prev?.revision,
      files: record.files,
      bytes: record.bytes,
      addedBytes: record.addedBytes,
      copiedFiles: c.copied,
      manifestSha256: c.manifest.sha256,
      staged: record.staged,
      sync,
      ms: { copy: c.ms, manifest: c.manifestMs, stage: stageMs, total: Math.round(performance.now() - t0) },
    };
  } catch (err) {
    await undo.run();
    throw err;
  }
}

function newRecord(revision: number, startedAt: string, source: RevisionRecord['source'], path: string, exportPath: string, kver: string, manifest: ReturnType<typeof treeManifest> | undefined, linkedTo: number | undefined): RevisionRecord {
  return {
    revision,
    publishedAt: new Date().toISOString(),
    startedAt,
    source,
    path,
    export: exportPath,
    kver,
    files: manifest?.files ?? 0,
    bytes: manifest?.bytes ?? 0,
    addedBytes: manifest?.addedBytes ?? 0,
    manifestSha256: manifest?.sha256 ?? '',
    linkedTo,
    staged: {},
    tests: [],
  };
}

/** Writes the generated files after a publish (under the caller's lock); a dry run plans with `dryIndex`. */
async function publishSync(inventoryFile: string, name: string, record: RevisionRecord, dryIndex: RevisionIndex | undefined, opts: PublishOptions): Promise<PublishResult['sync']> {
  const ref = imageRef(name, record.revision);
  try {
    // Under --root the records are those under DIR (where this publish wrote its own).
    const data = dryIndex || opts.root ? (await loadInventory(inventoryFile)).data : undefined;
    const indexes = data ? readRevisionIndexes(data, opts.root) : undefined;
    if (indexes && dryIndex) indexes.set(name, dryIndex);
    const r = await syncUnlocked(inventoryFile, { dryRun: !!opts.dryRun, diff: !!opts.diff, ...(opts.root ? { root: opts.root } : {}), ...(opts.reload === false ? { reload: false } : {}), ...(indexes ? { revisions: indexes } : {}) });
    return { counts: r.counts, changes: r.changes, warnings: r.warnings, dryRun: r.dryRun };
  } catch (err) {
    // The revision is published; what keeps the generated files from being written is another matter (a node of the working directory, say).
    if (!(err instanceof DeployError || err instanceof InventoryError)) throw err;
    const message = `${ref} is published, but the generated files were not written: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
    log().warn(message);
    return { counts: { created: 0, updated: 0, removed: 0, unchanged: 0 }, changes: [], warnings: [message], dryRun: !!opts.dryRun };
  }
}

export interface RevisionView {
  ref: string;
  revision: number;
  publishedAt: string;
  source: RevisionRecord['source'];
  path: string;
  export: string;
  kver: string;
  files: number;
  bytes: number;
  addedBytes: number;
  manifestSha256: string;
  staged: RevisionRecord['staged'];
  tests: TestRecord[];
  /** The latest test, and whether any passed (what rollout asks). */
  passed: boolean;
  /** Nodes that boot it at their next boot ("client pc1", "guest Terminal"). */
  boots: string[];
  /** Nodes that `rollback` would return to it. */
  rollback: string[];
  prunedAt?: string;
}

export interface ImageRevisions {
  image: string;
  store: string;
  next: number;
  revisions: RevisionView[];
  /** Nodes on the image's working directory (no revision). */
  workingDir: string[];
  rollouts: RolloutRecord[];
}

/** The revisions of an image with their tests and who boots each (at next boot); pruned ones with `all`. */
export async function imageRevisions(inventoryFile: string, name: string, opts: { all?: boolean } = {}): Promise<ImageRevisions> {
  const { data } = await loadInventory(inventoryFile);
  requireEntry(data, 'image', name);
  const index = readRevisionIndex(data.site, name) ?? emptyIndex(data.site, name);
  const boots = new Map<number, string[]>();
  const back = new Map<number, string[]>();
  const working: string[] = [];
  const nodes = [...Object.entries(data.guests).map(([n, g]) => ['guest', n, g] as const), ...Object.entries(data.clients).map(([n, c]) => ['client', n, c] as const)];
  for (const [kind, n, node] of nodes) {
    if (node.image !== name) continue;
    if (node.revision === undefined) working.push(`${kind} ${n}`);
    else boots.set(node.revision, [...(boots.get(node.revision) ?? []), `${kind} ${n}`]);
    if (node.previousRevision !== undefined) back.set(node.previousRevision, [...(back.get(node.previousRevision) ?? []), `${kind} ${n}`]);
  }
  const records = opts.all ? [...index.revisions].sort((a, b) => a.revision - b.revision) : liveRevisions(index);
  return {
    image: name,
    store: index.store,
    next: index.next,
    revisions: records.map((r) => ({
      ref: imageRef(name, r.revision),
      revision: r.revision,
      publishedAt: r.publishedAt,
      source: r.source,
      path: r.path,
      export: r.export,
      kver: r.kver,
      files: r.files,
      bytes: r.bytes,
      addedBytes: r.addedBytes,
      manifestSha256: r.manifestSha256,
      staged: r.staged,
      tests: r.tests,
      passed: !!lastPass(r),
      boots: boots.get(r.revision) ?? [],
      rollback: back.get(r.revision) ?? [],
      ...(r.prunedAt ? { prunedAt: r.prunedAt } : {}),
    })),
    workingDir: working,
    rollouts: readRolloutRecords(data.site, name),
  };
}

export interface VerifyResult {
  ref: string;
  intact: boolean;
  recorded: string;
  actual: string;
  /** The first differing manifest lines (- recorded, + now). */
  differences: string[];
}

/** Re-reads a revision's tree and compares it with the manifest recorded at publish. */
export async function verifyRevision(inventoryFile: string, ref: string): Promise<VerifyResult> {
  const { data } = await loadInventory(inventoryFile);
  const { image, revision, record } = requireRevision(data, ref);
  const now = treeManifest(record.path);
  const recordedText = readTreeManifest(data.site, image, revision) ?? '';
  return { ref, intact: now.sha256 === record.manifestSha256, recorded: record.manifestSha256, actual: now.sha256, differences: now.sha256 === record.manifestSha256 ? [] : manifestDiff(recordedText, now.text) };
}

export interface PruneOptions {
  /** Keep the K newest revisions besides those in use (default 1). */
  keep?: number;
  dryRun?: boolean;
  diff?: boolean;
  /** Every file prune writes or removes is under this directory, as DESTDIR does (`sync --root`): records, trees, boot files, exports, TFTP tree. */
  root?: string;
  /** false: run no exportfs -r and restart no DHCP server (as `sync --no-reload`). */
  reload?: boolean;
}

export interface PruneResult {
  image: string;
  dryRun: boolean;
  removed: string[];
  kept: { ref: string; why: string }[];
  sync: Pick<SyncResult, 'counts' | 'changes' | 'warnings' | 'dryRun'>;
}

/**
 * `xenroot image prune NAME [--keep K]`: removes the revisions that no node boots or may roll back
 * to, except the K newest. Their exports and served boot files go first (one sync), then their
 * trees and staged boot files. Records stay, marked pruned; numbers are never reused.
 */
export async function pruneImage(inventoryFile: string, name: string, opts: PruneOptions = {}): Promise<PruneResult> {
  const keepNewest = opts.keep ?? 1;
  const root = opts.root;
  return withInventoryLock(inventoryFile, async () => {
    const { data } = await loadInventory(inventoryFile);
    requireEntry(data, 'image', name);
    const site = data.site;
    const index = readRevisionIndex(site, name, root) ?? emptyIndex(site, name);
    const live = liveRevisions(index);
    const used = revisionsInUse(data, name);
    const newest = new Set(live.slice(Math.max(0, live.length - keepNewest)).map((r) => r.revision));
    const kept: PruneResult['kept'] = [];
    const gone: RevisionRecord[] = [];
    for (const r of live) {
      const users = used.get(r.revision);
      if (users) kept.push({ ref: imageRef(name, r.revision), why: `used by ${users.slice(0, 3).join(', ')}${users.length > 3 ? ` and ${users.length - 3} more` : ''}` });
      else if (newest.has(r.revision)) kept.push({ ref: imageRef(name, r.revision), why: `one of the ${keepNewest} newest (--keep)` });
      else gone.push(r);
    }
    const now = new Date().toISOString();
    const next: RevisionIndex = { ...index, revisions: index.revisions.map((r) => (gone.includes(r) ? { ...r, prunedAt: now } : r)) };
    const indexes = readRevisionIndexes(data, root);
    indexes.set(name, next);
    // Stop exporting and serving them first (planned from the pruned facts; a failure changes nothing), record it, then remove what is on disk.
    const r = await syncUnlocked(inventoryFile, { dryRun: !!opts.dryRun, diff: !!opts.diff, ...(root ? { root } : {}), ...(opts.reload === false ? { reload: false } : {}), revisions: indexes });
    if (!opts.dryRun && gone.length) await writeRevisionIndex(site, next, root);
    if (!opts.dryRun) {
      for (const g of gone) {
        await rm(under(root, g.path), { recursive: true, force: true });
        await rm(under(root, bootFiles(site, imageRef(name, g.revision), revisionImage(data, name, g), 'xen').dir), { recursive: true, force: true });
      }
      sweepStore(under(root, revisionStore(site, name)), next);
      // The clients' entry sets no node names any more (a rollout leaves the old ones for a way back).
      removeOrphanSets(data, root);
    }
    return { image: name, dryRun: !!opts.dryRun, removed: gone.map((g) => imageRef(name, g.revision)), kept, sync: { counts: r.counts, changes: r.changes, warnings: r.warnings, dryRun: r.dryRun } };
  });
}

/**
 * What `xenroot test REF` boots: a plain image, or a revision IMAGE@REV as the model entry of that
 * name (its read-only tree, its export path, its own boot dir). `data` is the model to test with.
 */
export function testSubject(data: InventoryData, ref: string): { name: string; data: InventoryData; revision?: { image: string; revision: number; logFile: string } } {
  const parsed = parseImageRef(ref);
  if (!parsed) return { name: ref, data };
  const { record, index } = requireRevision(data, ref);
  const model: InventoryData = { ...data, images: { ...data.images, [ref]: revisionImage(data, parsed.image, record) } };
  return { name: ref, data: model, revision: { ...parsed, logFile: testLogPath(data.site, parsed.image, parsed.revision, index.revisions.find((r) => r.revision === parsed.revision)!.tests.length + 1) } };
}

/**
 * Records the result of `xenroot test IMAGE@REV` with the revision (under the inventory lock):
 * PASS/FAIL, target, builder, the sha256 of the initrd it booted, boot time, date, console log.
 */
export async function recordTest(
  inventoryFile: string,
  subject: ReturnType<typeof testSubject>,
  r: { pass: boolean; target: string; builder: InitrdBuilder; bootMs: number | undefined; reason: string | undefined; initrd?: string; initrdSha256?: string; kver?: string; kernelSha256?: string },
  logFile: string | undefined,
): Promise<TestRecord | undefined> {
  const rev = subject.revision;
  if (!rev) return undefined;
  const test: TestRecord = {
    pass: r.pass,
    date: new Date().toISOString(),
    target: r.target,
    builder: r.builder,
    initrdSha256: r.initrdSha256 ?? (r.initrd && existsSync(r.initrd) ? await sha256File(r.initrd) : undefined),
    ...(r.kver ? { kver: r.kver } : {}),
    ...(r.kernelSha256 ? { kernelSha256: r.kernelSha256 } : {}),
    bootMs: r.bootMs,
    log: logFile && existsSync(logFile) ? logFile : undefined,
    reason: r.reason,
  };
  await withInventoryLock(inventoryFile, async () => {
    const site = subject.data.site;
    const index = readRevisionIndex(site, rev.image);
    const rec = index?.revisions.find((x) => x.revision === rev.revision);
    if (!index || !rec) throw new InventoryError(`the record of ${rev.image}@${rev.revision} disappeared during the test (pruned?): the result was not recorded`);
    rec.tests.push(test);
    await writeRevisionIndex(site, index);
  });
  return test;
}
