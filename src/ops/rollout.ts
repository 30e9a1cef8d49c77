/**
 * `xenroot rollout IMAGE@REV` and `xenroot rollback IMAGE`: move nodes to a published
 * revision, only when it has a PASS on record (`--force` overrides, and is recorded), and return
 * them to the revision they had before.
 *
 * Both change the inventory (a node's `revision` and `previousRevision`) and write the files sync
 * writes, planned from the edited inventory (planSync through syncUnlocked), in one atomic apply,
 * under the inventory's lock; the inventory is saved after the files. Every file of a node that
 * names what it boots goes through that node's switch link (deploy/plan.ts: nodeSwitch), which
 * one rename(2) replaces: a crash or an interrupt at any moment leaves each node on the old
 * revision or the new one, never a mix of the two inside its files. A node killed halfway (files
 * written, inventory not saved) is put back by the next sync, rollout or rollback, which plan from
 * the inventory. Running machines are not touched: they move at their next boot.
 */
import { InventoryError, TestFailedError, UsageError } from '../sys/errors.js';
import { removeFile } from '../sys/atomic.js';
import { requireEntry } from '../inventory/lookup.js';
import { resolveNodeRefs } from '../inventory/refs.js';
import { imageRef } from '../inventory/paths.js';
import { readRevisionIndexes, writeRevisionIndex, writeRolloutRecord } from '../inventory/revision-store.js';
import { lastPass, nodeImage, type RolloutRecord, type TestRecord } from '../inventory/revisions.js';
import type { Client, Guest, InitrdBuilder, InventoryData } from '../inventory/schema.js';
import { loadInventory, parseInventoryText, updateInventory, type Inventory } from './steps/store.js';
import { sweepSwitches } from '../deploy/switches.js';
import { ensureStaged, nodeTargets, requireRevision } from './revisions.js';
import { syncUnlocked } from './steps/sync-apply.js';
import type { SyncResult } from './sync.js';
import type { RevisionRecord } from '../inventory/revisions.js';
import type { BootTarget } from '../inventory/schema.js';

/** Which nodes a rollout or rollback moves. */
export interface NodeSelection {
  clients?: string[];
  guests?: string[];
  /** The members of this group (clients and guests whose `group` it is). */
  group?: string;
  /** Every node of the image. */
  all?: boolean;
}

export interface MoveOptions extends NodeSelection {
  dryRun?: boolean;
  diff?: boolean;
  /**
   * Every file under this directory, as DESTDIR (`sync --root`): generated files, staged boot files,
   * revision and rollout records; the revisions are read there (where `publish --root DIR` put
   * them). The inventory edit itself is saved as usual.
   */
  root?: string;
  /** false: skip the reload hooks (exportfs -r, DHCP server). */
  reload?: boolean;
  progress?: boolean;
}

export interface RolloutOptions extends MoveOptions {
  /** Move only the first N of the selected nodes that are not on the revision yet. */
  canary?: number;
  /** Move without a PASS on record (recorded as forced). */
  force?: boolean;
  builder?: InitrdBuilder;
}

export interface Move {
  /** "client pc1", "guest Terminal". */
  node: string;
  from: string;
  to: string;
}

export interface MoveResult {
  action: 'rollout' | 'rollback';
  image: string;
  /** rollout: the revision the nodes move to. */
  ref: string | undefined;
  dryRun: boolean;
  forced: boolean;
  /** The PASS the rollout went on (undefined: forced, or a rollback). */
  pass: TestRecord | undefined;
  moved: Move[];
  /** Selected nodes already there (rollout). */
  unchanged: string[];
  /** Selected nodes left for a later run (--canary). */
  remaining: string[];
  counts: SyncResult['counts'];
  changes: SyncResult['changes'];
  warnings: string[];
  /** Where the record of this move was written. */
  record: string | undefined;
}

type NodeKind = 'client' | 'guest';
interface Selected {
  kind: NodeKind;
  name: string;
  revision: number | undefined;
  previous: number | undefined;
}

/** The nodes named by a selection, each checked to boot `image`. */
function requireSelection(sel: NodeSelection): void {
  const given = [sel.clients?.length, sel.guests?.length, sel.group, sel.all].filter(Boolean).length;
  if (given === 0) throw new UsageError('say which nodes: --clients A,B, --guests X,Y, --group G or --all');
}

function selectNodes(data: InventoryData, image: string, sel: NodeSelection): Selected[] {
  requireSelection(sel);
  if (sel.group !== undefined) requireEntry(data, 'group', sel.group);
  const out = new Map<string, Selected>();
  const add = (kind: NodeKind, name: string, node: Guest | Client, explicit: boolean) => {
    // The image a node boots: its own, else its group's.
    const boots = nodeImage(data, kind, name, node);
    if (boots !== image) {
      if (!explicit) return;
      throw new InventoryError(`${kind} ${name} boots image ${boots}, not ${image}`, { hint: `move it to ${image} first (\`xenroot ${kind === 'client' ? 'client set NAME --image' : 'create'} ...\`), or leave it out` });
    }
    out.set(`${kind}:${name}`, { kind, name, revision: node.revision, previous: node.previousRevision });
  };
  const clients = resolveNodeRefs(data, 'client', sel.clients ?? []);
  const guests = resolveNodeRefs(data, 'guest', sel.guests ?? []);
  for (const n of clients) add('client', n, data.clients[n] as Client, true);
  for (const n of guests) add('guest', n, data.guests[n] as Guest, true);
  if (sel.group !== undefined) {
    for (const [n, c] of Object.entries(data.clients)) if (c.group === sel.group) add('client', n, c, false);
    for (const [n, g] of Object.entries(data.guests)) if (g.group === sel.group) add('guest', n, g, false);
  }
  if (sel.all) {
    for (const [n, c] of Object.entries(data.clients)) add('client', n, c, false);
    for (const [n, g] of Object.entries(data.guests)) add('guest', n, g, false);
  }
  if (out.size === 0) throw new InventoryError(`no node boots image ${image}`, { hint: '`xenroot client add MAC --image IMAGE` or `xenroot create NAME --image IMAGE` adds one' });
  return [...out.values()].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
}

const section = (k: NodeKind) => (k === 'client' ? 'clients' : 'guests');

function setRevision(inv: Inventory, n: Selected, revision: number | undefined, previous: number | undefined): void {
  inv.set([section(n.kind), n.name, 'revision'], revision);
  inv.set([section(n.kind), n.name, 'previousRevision'], previous);
}

async function apply(
  inventoryFile: string,
  action: 'rollout' | 'rollback',
  image: string,
  opts: MoveOptions,
  edit: (inv: Inventory) => Promise<{ moved: Move[]; record: Omit<RolloutRecord, 'date' | 'action' | 'image'> | undefined }>,
): Promise<{ moved: Move[]; sync: SyncResult | undefined; record: string | undefined }> {
  const run = async (inv: Inventory, locked: boolean) => {
    const before = { text: inv.toString(), data: inv.data, siteKeys: [...inv.siteKeys] };
    const { moved, record } = await edit(inv);
    if (moved.length === 0) return { moved, sync: undefined, record: undefined };
    inv.revalidate();
    // Under --root the revision records are those under DIR (where a publish --root DIR put them).
    const syncOpts = { ...(opts.root ? { root: opts.root, revisions: readRevisionIndexes(inv.data, opts.root) } : {}), ...(opts.reload === false ? { reload: false } : {}) };
    if (locked) sweepSwitches(inv.data, inventoryFile, opts.root);
    // The edited model as it is in memory: sync plans from it without parsing it again.
    const sync = await syncUnlocked(inventoryFile, { ...syncOpts, dryRun: !!opts.dryRun, diff: !!opts.diff, inventory: { text: inv.toString(), data: inv.data, siteKeys: inv.siteKeysAfter() } });
    if (!locked) return { moved, sync, record: undefined };
    // The inventory is saved after this returns; if that fails, the files go back to what the old inventory says.
    inv.onSaveFailure(async () => void (await syncUnlocked(inventoryFile, { ...syncOpts, inventory: before })));
    let file: string | undefined;
    if (record) {
      file = await writeRolloutRecord(inv.data.site, { action, image, date: new Date().toISOString(), ...record }, opts.root);
      const written = file;
      inv.onSaveFailure(async () => void removeFile(written));
    }
    return { moved, sync, record: file };
  };
  if (opts.dryRun) {
    const loaded = await loadInventory(inventoryFile);
    return run(parseInventoryText(loaded.toString(), inventoryFile), false);
  }
  return updateInventory(inventoryFile, (inv) => run(inv, true));
}

function result(action: 'rollout' | 'rollback', image: string, ref: string | undefined, opts: MoveOptions, r: Awaited<ReturnType<typeof apply>>, extra: Pick<MoveResult, 'forced' | 'pass' | 'unchanged' | 'remaining'>): MoveResult {
  return {
    action,
    image,
    ref,
    dryRun: !!opts.dryRun,
    ...extra,
    moved: r.moved,
    counts: r.sync?.counts ?? { created: 0, updated: 0, removed: 0, unchanged: 0 },
    changes: r.sync?.changes ?? [],
    warnings: r.sync?.warnings ?? [],
    record: r.record,
  };
}

/**
 * `xenroot rollout IMAGE@REV`: moves the selected nodes of IMAGE to revision REV at their next
 * boot. Refuses (TestFailedError, exit 9, nothing changed) a revision without a PASS on record,
 * unless `force`. Stages the revision's boot files the moved nodes need first.
 */
export async function rollout(inventoryFile: string, ref: string, opts: RolloutOptions = {}): Promise<MoveResult> {
  requireSelection(opts);
  if (opts.canary !== undefined && (!Number.isInteger(opts.canary) || opts.canary < 1)) throw new UsageError(`--canary ${opts.canary} is not valid: must be a whole number of nodes, 1 or more`);
  let pass: TestRecord | undefined;
  let unchanged: string[] = [];
  let remaining: string[] = [];
  let image = '';
  const prestaged = opts.dryRun ? undefined : await stageUnlocked(inventoryFile, ref, opts);
  const r = await apply(inventoryFile, 'rollout', (ref.split('@')[0] ?? ref), opts, async (inv) => {
    const rev = requireRevision(inv.data, ref, opts.root);
    const adopted = prestaged ? adoptStaged(rev.record, prestaged) : false;
    image = rev.image;
    const nodes = selectNodes(inv.data, rev.image, opts);
    pass = lastPass(rev.record);
    if (!pass && !opts.force) {
      const tests = rev.record.tests;
      throw new TestFailedError(`${ref} has no PASS on record${tests.length ? ` (${tests.length} test${tests.length > 1 ? 's' : ''}, the last: FAIL${tests.at(-1)?.reason ? `: ${tests.at(-1)!.reason}` : ''})` : ' (never tested)'}: nothing was rolled out`, {
        hint: `test it first: \`xenroot test ${ref}\`; or roll it out untested with --force (recorded)`,
      });
    }
    unchanged = nodes.filter((n) => n.revision === rev.revision).map((n) => `${n.kind} ${n.name}`);
    let toMove = nodes.filter((n) => n.revision !== rev.revision);
    if (opts.canary !== undefined) {
      remaining = toMove.slice(opts.canary).map((n) => `${n.kind} ${n.name}`);
      toMove = toMove.slice(0, opts.canary);
    }
    if (toMove.length === 0) return { moved: [], record: undefined };
    // The boot files the moved nodes need, built from the revision's own tree (recorded with it).
    const targets = nodeTargets(inv.data, toMove);
    if ((await ensureStaged(inv.data.site, inv.data, rev.image, rev.record, targets, { ...(opts.builder ? { builder: opts.builder } : {}), progress: !!opts.progress, ...(opts.root ? { root: opts.root } : {}) })) || adopted)
      await writeRevisionIndex(inv.data.site, rev.index, opts.root);
    const moves: RolloutRecord['moves'] = {};
    const moved: Move[] = [];
    for (const n of toMove) {
      setRevision(inv, n, rev.revision, n.revision);
      moves[`${n.kind}:${n.name}`] = [n.revision, rev.revision];
      moved.push({ node: `${n.kind} ${n.name}`, from: imageRef(rev.image, n.revision), to: ref });
    }
    return { moved, record: { revision: rev.revision, forced: !pass, canary: opts.canary, moves } };
  });
  return result('rollout', image, ref, opts, r, { forced: !pass && !!opts.force && r.moved.length > 0, pass, unchanged, remaining });
}

/**
 * Stages the boot files the nodes a rollout would move need, with no lock held (an initrd build
 * can take a minute; the revision's boot dir BOOTDIR/IMAGE@REV is its own): what the locked edit
 * then finds staged it only records. Undefined when the rollout would be refused or move nothing
 * (the locked edit says why, as before, and nothing is staged).
 */
async function stageUnlocked(inventoryFile: string, ref: string, opts: RolloutOptions): Promise<RevisionRecord['staged'] | undefined> {
  const { data } = await loadInventory(inventoryFile);
  let rev: ReturnType<typeof requireRevision>;
  let nodes: Selected[];
  try {
    rev = requireRevision(data, ref, opts.root);
    nodes = selectNodes(data, rev.image, opts);
  } catch {
    return undefined;
  }
  if (!lastPass(rev.record) && !opts.force) return undefined;
  let toMove = nodes.filter((n) => n.revision !== rev.revision);
  if (opts.canary !== undefined) toMove = toMove.slice(0, opts.canary);
  if (toMove.length === 0) return undefined;
  const record = structuredClone(rev.record);
  await ensureStaged(data.site, data, rev.image, record, nodeTargets(data, toMove), { ...(opts.builder ? { builder: opts.builder } : {}), progress: !!opts.progress, ...(opts.root ? { root: opts.root } : {}) });
  return record.staged;
}

/** Records in `record` the boot files staged before the lock that it does not have yet; true when it took any. */
function adoptStaged(record: RevisionRecord, staged: RevisionRecord['staged']): boolean {
  let took = false;
  for (const [target, s] of Object.entries(staged) as [BootTarget, NonNullable<RevisionRecord['staged'][BootTarget]>][]) {
    if (record.staged[target]?.initrdSha256 === s.initrdSha256) continue;
    record.staged[target] = s;
    took = true;
  }
  return took;
}

/**
 * `xenroot rollback IMAGE`: returns the selected nodes to the revision they had before their last
 * rollout, in one step and without a test. A named node with nothing to return to is refused
 * (InventoryError, nothing changed); with --all such nodes are skipped.
 */
export async function rollback(inventoryFile: string, image: string, opts: MoveOptions = {}): Promise<MoveResult> {
  requireSelection(opts);
  const r = await apply(inventoryFile, 'rollback', image, opts, async (inv) => {
    requireEntry(inv.data, 'image', image);
    const nodes = selectNodes(inv.data, image, opts);
    const stuck = nodes.filter((n) => n.previous === undefined);
    if (stuck.length && !opts.all)
      throw new InventoryError(`${stuck.slice(0, 3).map((n) => `${n.kind} ${n.name}`).join(', ')}${stuck.length > 3 ? ` and ${stuck.length - 3} more` : ''}: no revision to roll back to`, {
        hint: 'rollback returns a node to the revision it booted before its last rollout; `xenroot image show IMAGE` shows who may roll back',
      });
    const back = nodes.filter((n) => n.previous !== undefined);
    if (back.length === 0) throw new InventoryError(`no node of image ${image} has a revision to roll back to`);
    const moves: RolloutRecord['moves'] = {};
    const moved: Move[] = [];
    for (const n of back) {
      setRevision(inv, n, n.previous, undefined);
      moves[`${n.kind}:${n.name}`] = [n.revision, n.previous];
      moved.push({ node: `${n.kind} ${n.name}`, from: imageRef(image, n.revision), to: imageRef(image, n.previous) });
    }
    return { moved, record: { revision: undefined, forced: false, canary: undefined, moves } };
  });
  return result('rollback', image, undefined, opts, r, { forced: false, pass: undefined, unchanged: [], remaining: [] });
}
