/**
 * The planning and applying half of `xenroot sync` (ops/sync.ts loads it only when the no-op
 * check found work): the full plan, or the plan of the few owners that changed since the
 * manifest's plan (the previous model is kept beside the manifest), applied in one batch.
 */
import { closeSync, existsSync, linkSync, openSync, readFileSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bootHttpBase, stateDir } from '../../inventory/paths.js';
import { modelOfText } from './store.js';
import { modelCachePath, modelKey, writeModelCache } from '../../inventory/model-cache.js';
import type { InventoryData } from '../../inventory/schema.js';
import { isGenerated } from '../../render/header.js';
import { debugEnabled, log } from '../../sys/log.js';
import { removeFile, sweepTempFiles } from '../../sys/atomic.js';
import { applyPlan } from '../../deploy/apply.js';
import { beginApply, endApply, interruptedApply, manifestPath, readManifest, sweepAfterInterruptedApply, under, writeManifest, type PlanInputs } from '../../deploy/manifest.js';
import { assertLockHeld } from '../../inventory/lock.js';
import { decodeInventory } from '../../inventory/text.js';
import { dhcpFile, planSync, type FileGroup, type PlanInput } from '../../deploy/plan.js';
import { blockedNodes, keptSetFiles } from '../../deploy/node-faults.js';
import { reloadServices, type ReloadResult } from '../../deploy/reload.js';
import { EFI_LOADER_PATHS, findEfiLoader, findSyslinux, stageImages, SYSLINUX_PATHS } from '../../deploy/tftp.js';
import { hostKeyHolder, pruneHostKeys } from '../../deploy/host-keys.js';
import { guestRamdiskInputs, nodeIdentities, nodeKey } from './identity.js';
import { generatedHostPaths } from './host-boot.js';
import { revisionModel } from './revision-model.js';
import { fingerprints, inputsIntact, probedPaths, statRecord, type SyncOptions, type SyncResult } from './sync-inputs.js';
import { DeployError } from '../../sys/errors.js';
import { hostAccount } from '../../sys/users.js';


/** The first 4 KiB of a file, or undefined when it cannot be read. */
function readHead(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(4096);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The previous model, kept beside the manifest: the one the manifest was planned from. */
function snapshotPath(manifest: string): string {
  return manifest.replace(/\.json$/, '.model.json');
}

function readSnapshot(manifest: string, key: string | undefined): InventoryData | undefined {
  if (!key) return undefined;
  try {
    const raw = readFileSync(snapshotPath(manifest), 'utf8');
    if (!raw.startsWith(`{"v":1,"key":"${key}",`)) return undefined;
    return (JSON.parse(raw) as { data: InventoryData }).data;
  } catch {
    return undefined;
  }
}

/**
 * Keeps the model a manifest was planned from beside it: a hard link to the model cache file
 * when that holds it (no copy), else a write. Not flushed: a torn or missing snapshot is seen by
 * its key and costs the next sync a full plan, nothing else.
 */
function keepSnapshot(manifest: string, file: string, text: string, data: InventoryData, siteKeys: string[], key: string): void {
  const target = snapshotPath(manifest);
  removeFile(target);
  try {
    const cache = modelCachePath(file);
    if (readFileSync(cache, 'utf8').startsWith(`{"v":1,"key":"${key}",`)) {
      linkSync(cache, target);
      return;
    }
  } catch {
    // another filesystem (--root), no cache: write it
  }
  writeModelCache(file, text, data, siteKeys, target);
}

const entryText = (v: unknown): string => (v === undefined ? '' : JSON.stringify(v));

/** Whether two entries of a model are equal: flat values compared directly, nested ones as JSON. */
function sameEntry(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let n = 0;
  for (const k in x) {
    n++;
    const v = x[k];
    if (v !== y[k] && (typeof v !== 'object' || entryText(v) !== entryText(y[k]))) return false;
  }
  for (const _ in y) n--;
  return n === 0;
}

/**
 * The owners whose files may differ between two models, or undefined when a shared input changed
 * (site, images, groups): then every owner may differ.
 */
function changedOwners(before: InventoryData, after: InventoryData): Set<string> | undefined {
  for (const k of ['site', 'images', 'groups'] as const) if (entryText(before[k] ?? {}) !== entryText(after[k] ?? {})) return undefined;
  const owners = new Set<string>();
  for (const [kind, section] of [['guest', 'guests'], ['client', 'clients']] as const) {
    const a = before[section] as Record<string, unknown>;
    const b = after[section] as Record<string, unknown>;
    for (const n of Object.keys(b)) if (!Object.hasOwn(a, n) || !sameEntry(a[n], b[n])) owners.add(`${kind}:${n}`);
    for (const n of Object.keys(a)) if (!Object.hasOwn(b, n)) owners.add(`${kind}:${n}`);
  }
  return owners;
}

/** Plans and applies under the caller's lock (a dry run reads only). */
export async function syncUnlocked(inventoryFile: string, opts: SyncOptions, t0 = performance.now()): Promise<SyncResult> {
  const root = opts.root;
  const warnings: string[] = [];
  const file = resolve(inventoryFile);
  const mtarget = manifestPath(file, root);
  const loaded = readManifest(mtarget);
  const { manifest: prev, text: prevText } = loaded;
  if (loaded.warning) warnings.push(loaded.warning);
  let invBytes: Buffer | undefined;
  try {
    invBytes = opts.inventory === undefined ? readFileSync(file) : undefined;
  } catch {
    invBytes = undefined;
  }
  // Not UTF-8: refused with the line, never read with U+FFFD in it.
  const invText = opts.inventory?.text ?? (invBytes === undefined ? undefined : decodeInventory(invBytes, file).text);
  const { base, fingerprint } = fingerprints(file, opts, invText);
  const intact = inputsIntact(loaded, base, root);
  // A run killed mid-apply (SIGKILL): its temp files are swept below, and nothing is taken as done.
  const killedBefore = !opts.dryRun && interruptedApply(mtarget);
  if (!killedBefore && !opts.revisions && invText !== undefined && intact && prev.inputs?.fingerprint === fingerprint) {
    // Another sync did the work while this one waited for the lock.
    const n = Object.keys(prev.files).length;
    const ms = Math.round(performance.now() - t0);
    return { dryRun: !!opts.dryRun, ...(root ? { root } : {}), counts: { created: 0, updated: 0, removed: 0, unchanged: n }, changes: [], warnings, reloads: [], manifest: mtarget, mode: 'no-op', ms: { load: ms, plan: 0, apply: 0, total: ms } };
  }
  const model = opts.inventory ? { path: file, ...opts.inventory, key: modelKey(opts.inventory.text) } : await modelOfText(file, invText);
  if (!opts.dryRun) assertLockHeld(file);
  // Published revisions become entries IMAGE@REV of the model the renderers see.
  const data = revisionModel(model.data, opts.revisions);
  const site = data.site;
  // Only some nodes changed since the manifest's plan, everything else as it was: plan those.
  const before = intact ? readSnapshot(mtarget, prev.inputs?.modelKey) : undefined;
  const owners = before ? changedOwners(before, model.data) : undefined;
  const t1 = performance.now();

  const sources = { ...prev.sources };
  const stage = await stageImages(data, sources, root);
  warnings.push(...stage.warnings);
  const needSyslinux = stage.staged.size > 0 || Object.keys(data.clients).length > 0;
  const syslinux: PlanInput['syslinux'] = needSyslinux
    ? await findSyslinux(opts.syslinuxPaths)
    : { pxelinux0: '', pxelinux0Size: 0, ldlinux: '', ldlinuxSize: 0 };
  const efi = needSyslinux ? await findEfiLoader(site.pxe.efiLoader, opts.efiPaths) : [];
  // UEFI HTTP Boot clients are handed iPXE's snponly.efi over HTTP (render/dnsmasq.ts:
  // httpBootUrl) whatever the PXE clients' loader is: stage it wherever HTTP boot is on.
  if (needSyslinux && bootHttpBase(site) && site.pxe.efiLoader !== 'none' && site.pxe.efiLoader !== 'ipxe') efi.push(...(await findEfiLoader('ipxe', opts.efiPaths)));
  const exportsDirExists = (await stat(under(root, site.exports.dir)).catch(() => undefined))?.isDirectory() ?? false;
  const dfile = dhcpFile(site);
  let dhcpShared = false;
  if (dfile) {
    // Whose file it is shows in its first lines (xenroot's header): no need to read 10,000 hosts.
    const head = readHead(under(root, dfile));
    dhcpShared = head !== undefined && head !== '' && !isGenerated(head);
  }
  // Keep only the hashes of sources still in use.
  const used = new Set([...stage.staged.values()].flatMap((s) => [s.kernelSource, s.initrdSource]));
  for (const k of Object.keys(sources)) if (!used.has(k)) delete sources[k];

  // Guests on inventory hosts that keep boot files there name those paths.
  const guestHostPaths = await generatedHostPaths(data, Object.keys(data.guests).filter((n) => !owners || owners.has(`guest:${n}`)));
  // Per-node identity pieces (host keys made on first use, none in a dry run) and
  // guests' ramdisks, of the nodes this plan covers.
  const state = under(root, stateDir(file, site));
  const inScope = (kind: 'client' | 'guest', name: string) => !owners || owners.has(nodeKey(kind, name));
  const nodes = [
    ...Object.keys(data.clients).filter((n) => inScope('client', n)).map((name) => ({ kind: 'client' as const, name })),
    ...Object.keys(data.guests).filter((n) => inScope('guest', n)).map((name) => ({ kind: 'guest' as const, name })),
  ];
  const identities = await nodeIdentities(data, file, state, nodes, { generate: !opts.dryRun });
  const ramdisks = guestRamdiskInputs(data, nodes.filter((n) => n.kind === 'guest').map((n) => n.name));
  const tftpOwner = site.pxe.tftpUser ? tftpAccount(site.pxe.tftpUser) : undefined;
  const plan = planSync({
    data,
    inventoryFile: file,
    staged: stage.staged,
    syslinux,
    efi,
    exportsDirExists,
    dhcpShared,
    guestHostPaths,
    identities,
    ramdisks,
    ...(tftpOwner ? { tftpOwner } : {}),
    ...(owners ? { only: owners } : {}),
  });
  // Temp files of a run killed with SIGKILL are recognised by name and removed (where this run writes).
  if (!opts.dryRun) for (const d of new Set(plan.files.map((f) => dirname(under(root, f.path))))) for (const t of sweepTempFiles(d)) warnings.push(`removed ${t}, left by an interrupted run`);
  // After a kill, staging directories may sit beside any ancestor of what it wrote.
  if (killedBefore) for (const t of sweepAfterInterruptedApply([...plan.files.map((f) => f.path), ...Object.keys(prev.files)], root)) warnings.push(`removed ${t}, left by an interrupted run`);
  // A node whose files cannot be rendered or written is reported and left as it was; the others go on.
  const failures = [...plan.failures, ...blockedNodes(plan.files, root)];
  const keep = new Set(failures.map((f) => f.owner));
  const files = keep.size ? plan.files.filter((f) => !keep.has(f.owner)) : plan.files;
  if (!opts.dryRun) beginApply(mtarget);
  warnings.push(...plan.warnings);
  const t2 = performance.now();

  // An incremental plan applies its owners and the shared files; every other owner's files stay as recorded.
  const scope = owners ? new Set([...owners, 'site', ...Object.keys(data.images).map((n) => `image:${n}`)]) : undefined;
  const applied = await applyPlan(files, prev, sources, {
    ...(root ? { root } : {}),
    dryRun: !!opts.dryRun,
    diff: !!opts.diff,
    ...(opts.chunk ? { chunk: opts.chunk } : {}),
    ...(scope ? { owners: scope } : {}),
    ...(keep.size ? { keep, keepPaths: keptSetFiles(prev, keep, root) } : {}),
    // A sync that was stopped past the lock's stale time applies nothing.
    beforeCommit: () => assertLockHeld(file),
  });
  if (!opts.dryRun) {
    const stats: PlanInputs['stats'] = {};
    for (const p of probedPaths(data, file, root, opts.syslinuxPaths ?? SYSLINUX_PATHS, opts.efiPaths ?? EFI_LOADER_PATHS)) stats[p] = statRecord(p);
    // A sync with failed nodes is not complete: the next one plans in full again.
    applied.manifest.inputs = failures.length ? undefined : { fingerprint, stats, base, modelKey: model.key };
    if (!failures.length && (prev.inputs?.modelKey !== model.key || !existsSync(snapshotPath(mtarget)))) keepSnapshot(mtarget, file, model.text, model.data, model.siteKeys, model.key);
    assertLockHeld(file);
    await writeManifest(mtarget, applied.manifest, prevText);
    endApply(mtarget);
    // Host keys of nodes that left the inventory are secrets nobody needs any more.
    const kept = new Set([...Object.entries(data.clients).map(([n, c]) => hostKeyHolder('client', n, c.mac)), ...Object.keys(data.guests).map((n) => hostKeyHolder('guest', n, undefined))]);
    const pruned = pruneHostKeys(state, file, kept);
    for (const k of pruned.removed) log().info({ file: k }, 'removed the host keys of a node no longer in the inventory');
    // A run killed while it made keys (before its apply) left only these: said as every other leftover is.
    for (const t of pruned.temps) warnings.push(`removed ${t}, left by an interrupted run`);
  }
  const t3 = performance.now();

  const changed = new Set<FileGroup>(applied.changes.filter((c) => c.outcome !== 'unchanged').map((c) => c.group));
  let reloads: ReloadResult[] = [];
  if (!opts.dryRun && !root && opts.reload !== false && changed.size > 0) {
    reloads = await reloadServices(changed, site);
    for (const r of reloads) if (r.outcome === 'failed') warnings.push(`reload failed: ${r.command}: ${r.message}; the files are written, reload by hand`);
  }
  for (const w of warnings) log().warn(w);
  const t4 = performance.now();
  const ms = { load: Math.round(t1 - t0), plan: Math.round(t2 - t1), apply: Math.round(t3 - t2), total: Math.round(t4 - t0) };
  if (debugEnabled()) log().debug({ ms, counts: applied.counts }, 'sync done');
  // Out-of-scope files of an incremental sync are unchanged, as the stat check found them.
  const counts = { ...applied.counts };
  if (scope) counts.unchanged = Object.keys(applied.manifest.files).length - counts.created - counts.updated;
  return {
    dryRun: !!opts.dryRun,
    ...(root ? { root } : {}),
    counts,
    changes: applied.changes.filter((c) => c.outcome !== 'unchanged'),
    warnings,
    reloads,
    manifest: mtarget,
    mode: scope ? 'incremental' : 'full',
    ms,
    failures,
  };
}

/** The uid and gid of site.pxe.tftpUser on this host; DeployError when there is no such user. */
function tftpAccount(user: string): { uid: number; gid: number } {
  const a = hostAccount(user);
  if (a) return a;
  throw new DeployError(`site.pxe.tftpUser ${user}: no such user on this host (/etc/passwd)`, { hint: 'name the user the TFTP server runs as (tftp for tftpd-hpa, dnsmasq for dnsmasq), or leave tftpUser out' });
}
