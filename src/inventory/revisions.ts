/**
 * Published revisions of images, as data: the facts recorded about each revision (kept
 * in xenroot's state directory, see revision-store.ts) and the one pure step that lets every
 * renderer serve them: `effectiveModel` turns each live revision into an image entry named
 * `IMAGE@REV` (its read-only tree, its own export path, the kernel it was published with) and
 * points every node that boots a revision at that entry. What boots where is the admin's (the
 * inventory: a node's `revision` and `previousRevision`); what a revision holds and how it tested
 * is a fact (the state directory).
 */
import type { BootTarget, Client, Guest, Image, InitrdBuilder, InventoryData } from './schema.js';
import { effectiveClient, effectiveGuest } from './effective.js';
import { imageRef, revisionExport, revisionRoot } from './paths.js';

/** One run of `xenroot test IMAGE@REV`. */
export interface TestRecord {
  pass: boolean;
  /** ISO 8601, when the test ended. */
  date: string;
  /** Domain flavour the throwaway guest ran as (qemu, xen). */
  target: string;
  builder: InitrdBuilder;
  /** sha256 of the initrd the test booted. */
  initrdSha256: string | undefined;
  /** The kernel release and the sha256 of the kernel file the test booted (a result names what it booted). */
  kver?: string;
  kernelSha256?: string;
  /** Domain creation to readiness line, ms (PASS only). */
  bootMs: number | undefined;
  /** Console transcript of the test. */
  log: string | undefined;
  /** Why it failed (FAIL only). */
  reason: string | undefined;
}

/** What a published revision is: recorded once at publish, then only its tests are added. */
export interface RevisionRecord {
  revision: number;
  /** ISO 8601. */
  publishedAt: string;
  /** ISO 8601: when its copy began (files of the source changed after it are checked by content at the next publish). */
  startedAt?: string;
  /** What it was published from: the working directory, or the loop image file. */
  source: { root?: string; file?: string };
  /** Its tree (read-only) and the NFS path nodes mount. */
  path: string;
  export: string;
  kver: string;
  /** Entries of the tree (files, directories, links, devices). */
  files: number;
  /** Apparent size of the tree's regular files (bytes). */
  bytes: number;
  /** Bytes of regular files this revision added on disk (files not hard-linked to the previous revision). */
  addedBytes: number;
  /** sha256 of the tree's manifest (one line per entry: type, mode, owner, size, mtime, content sha256 or link target, path). */
  manifestSha256: string;
  /** The revision it was linked against (unchanged files share its inodes). */
  linkedTo: number | undefined;
  /** Boot files staged for it, by target: builder and initrd sha256. */
  staged: Partial<Record<BootTarget, { builder: InitrdBuilder; initrdSha256: string }>>;
  tests: TestRecord[];
  /** Set when `image prune` removed it (the record stays: history). */
  prunedAt?: string;
}

/** The facts of one image's revisions (state directory). */
export interface RevisionIndex {
  version: 1;
  image: string;
  /** The directory holding the revision trees. */
  store: string;
  /** The number the next publish gets (numbers are never reused, even after a prune). */
  next: number;
  revisions: RevisionRecord[];
}

/** One rollout or rollback, as recorded. */
export interface RolloutRecord {
  action: 'rollout' | 'rollback';
  date: string;
  image: string;
  /** rollout: the revision the nodes were moved to. */
  revision: number | undefined;
  /** true: moved without a PASS on record (--force). */
  forced: boolean;
  canary: number | undefined;
  /** Per node ("client:NAME", "guest:NAME"): [from, to] (undefined: the working directory). */
  moves: Record<string, [number | undefined, number | undefined]>;
}

/** Revisions that still exist (not pruned), newest last. */
export function liveRevisions(index: RevisionIndex | undefined): RevisionRecord[] {
  return (index?.revisions ?? []).filter((r) => !r.prunedAt).sort((a, b) => a.revision - b.revision);
}

/** The latest test of a revision that passed, if any. */
export function lastPass(rec: RevisionRecord): TestRecord | undefined {
  return [...rec.tests].reverse().find((t) => t.pass);
}

/** The image a node boots: its own, else its group's (inventory/effective.ts). */
export function nodeImage(data: InventoryData, kind: 'guest' | 'client', name: string, node: Guest | Client): string {
  return kind === 'guest' ? effectiveGuest(data, name, node as Guest).image : effectiveClient(data, name, node as Client).image;
}

/** The image entry a revision boots as: the image's settings, the revision's tree, export and kernel. */
export function revisionImage(data: InventoryData, imageName: string, rec: Pick<RevisionRecord, 'revision' | 'kver'>): Image {
  const base = data.images[imageName] as Image;
  const image: Image = { ...base, root: revisionRoot(data.site, imageName, rec.revision), export: revisionExport(data.site, imageName, rec.revision), kver: rec.kver };
  delete image.file;
  return image;
}

/**
 * The model every renderer works from: the inventory, plus one image entry `IMAGE@REV` per live
 * revision (so each is exported at its own path and its staged boot files are served), with each
 * node that boots a revision pointed at that entry. Pure. A node naming a revision that is not
 * live keeps it: the renderers then fail naming `IMAGE@REV` (see missingRevisions).
 */
export function effectiveModel(data: InventoryData, indexes: Map<string, RevisionIndex>): InventoryData {
  if (indexes.size === 0 && !hasRevisionNodes(data)) return data;
  const images: InventoryData['images'] = { ...data.images };
  for (const [name, index] of indexes) {
    if (!data.images[name]) continue;
    for (const rec of liveRevisions(index)) images[imageRef(name, rec.revision)] = revisionImage(data, name, rec);
  }
  const guests: InventoryData['guests'] = {};
  for (const [n, g] of Object.entries(data.guests)) guests[n] = g.revision === undefined ? g : { ...g, image: imageRef(nodeImage(data, 'guest', n, g), g.revision) };
  const clients: InventoryData['clients'] = {};
  for (const [n, c] of Object.entries(data.clients)) clients[n] = c.revision === undefined ? c : { ...c, image: imageRef(nodeImage(data, 'client', n, c), c.revision) };
  return { ...data, images, guests, clients };
}

function hasRevisionNodes(data: InventoryData): boolean {
  return Object.values(data.guests).some((g) => g.revision !== undefined) || Object.values(data.clients).some((c) => c.revision !== undefined);
}

/** Nodes whose revision (or rollback revision) is not live: `client pc1: terminal@3`. */
export function missingRevisions(data: InventoryData, indexes: Map<string, RevisionIndex>): string[] {
  const live = (image: string, rev: number) => liveRevisions(indexes.get(image)).some((r) => r.revision === rev);
  const out: string[] = [];
  const check = (kind: 'guest' | 'client', name: string, node: Guest | Client) => {
    const image = nodeImage(data, kind, name, node);
    for (const rev of [node.revision, node.previousRevision]) if (rev !== undefined && !live(image, rev)) out.push(`${kind} ${name}: ${imageRef(image, rev)}`);
  };
  for (const [n, g] of Object.entries(data.guests)) check('guest', n, g);
  for (const [n, c] of Object.entries(data.clients)) check('client', n, c);
  return out;
}

/** Revisions of `image` that a node boots or may roll back to: they stay exported and staged. */
export function revisionsInUse(data: InventoryData, image: string): Map<number, string[]> {
  const used = new Map<number, string[]>();
  const add = (rev: number | undefined, who: string) => {
    if (rev !== undefined) used.set(rev, [...(used.get(rev) ?? []), who]);
  };
  for (const [n, g] of Object.entries(data.guests)) if (g.image === image) (add(g.revision, `guest ${n}`), add(g.previousRevision, `guest ${n} (rollback)`));
  for (const [n, c] of Object.entries(data.clients)) if (c.image === image) (add(c.revision, `client ${n}`), add(c.previousRevision, `client ${n} (rollback)`));
  return used;
}

/** Whether a model image name is a revision entry (`IMAGE@REV`) rather than an image of the inventory. */
export function isRevisionEntry(name: string): boolean {
  return name.includes('@');
}

/**
 * What a running guest booted, from its live description (libvirt XML or xl JSON): IMAGE@REV when
 * its kernel came from a revision's boot dir (BOOTDIR/IMAGE@REV/), IMAGE when from the image's.
 */
export function runningImage(description: string, image: string): string | undefined {
  const esc = image.replace(/[.]/g, '\\.');
  const rev = new RegExp(`/${esc}@(\\d+)/[^/"<\\s]*vmlinuz`).exec(description);
  if (rev) return `${image}@${rev[1]}`;
  return new RegExp(`/${esc}/[^/"<\\s]*vmlinuz`).test(description) ? image : undefined;
}
