/**
 * `xenroot sync`: renders every generated file from the inventory (guest .cfg/.xml, TFTP tree,
 * DHCP, exports) and applies it idempotently; then reloads what changed. A re-run with no
 * inventory change writes nothing. `root` writes every path under a directory (DESTDIR style)
 * and skips the reload hooks.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory, parseInventoryText } from '../inventory/store.js';
import { assertLockHeld, withInventoryLock } from '../inventory/lock.js';
import { decodeInventory } from '../inventory/text.js';
import { bootFiles, stateDir } from '../inventory/paths.js';
import type { InventoryData } from '../inventory/schema.js';
import { isGenerated } from '../render/header.js';
import { log } from '../sys/log.js';
import { applyPlan, type FileChange, type Outcome } from '../deploy/apply.js';
import { beginApply, endApply, interruptedApply, manifestIntact, manifestPath, readManifest, sweepAfterInterruptedApply, under, writeManifest, type PlanInputs } from '../deploy/manifest.js';
import { dhcpFile, planSync, type FileGroup, type PlanInput } from '../deploy/plan.js';
import { reloadServices, type ReloadResult } from '../deploy/reload.js';
import { EFI_LOADER_PATHS, findEfiLoader, findSyslinux, stageImages, SYSLINUX_PATHS } from '../deploy/tftp.js';
import { hostKeysFile, pruneHostKeys } from '../deploy/host-keys.js';
import { guestRamdiskInputs, lookupUser, nodeIdentities, nodeKey } from './identity.js';

export interface SyncOptions {
  /** Write every system path under this directory; no reload hooks. */
  root?: string;
  dryRun?: boolean;
  diff?: boolean;
  /** false: skip the reload hooks (--no-reload). */
  reload?: boolean;
  /** Where to look for pxelinux.0 / ldlinux.c32 (tests). */
  syslinuxPaths?: typeof SYSLINUX_PATHS;
  /** Where to look for the UEFI loaders (tests). */
  efiPaths?: typeof EFI_LOADER_PATHS;
  chunk?: number;
}

export interface SyncResult {
  dryRun: boolean;
  root?: string;
  counts: Record<Outcome, number>;
  /** Every file that was (or, in a dry run, would be) created, updated or removed. */
  changes: FileChange[];
  warnings: string[];
  reloads: ReloadResult[];
  manifest: string;
  ms: { load: number; plan: number; apply: number; total: number };
}

/** The code that renders: a change of any renderer or planner module invalidates the plan cache. */
let codeStamp: string | undefined;
export function rendererStamp(): string {
  if (codeStamp) return codeStamp;
  // The built modules (dist/) when they exist, so that the sources run by tests and the built CLI
  // agree on one stamp; else the directory of this module.
  const here = dirname(fileURLToPath(import.meta.url));
  const dist = join(here, '../../dist');
  const base = existsSync(join(dist, 'deploy')) ? dist : join(here, '..');
  // Content, not mtimes: every build rewrites dist/ with new mtimes and the same bytes.
  const h = createHash('sha1');
  for (const dir of [join(base, 'deploy'), join(base, 'render'), join(base, 'inventory'), join(base, 'ops')]) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.map')) continue;
      h.update(`${f}\0`).update(readFileSync(join(dir, f))).update('\0');
    }
  }
  return (codeStamp = h.digest('hex'));
}

type StatRecord = PlanInputs['stats'][string];

function statRecord(path: string): StatRecord {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return null;
  // Directories count by existence only (their mtime moves with every file inside).
  return st.isDirectory() ? { size: -1, mtimeMs: 0, ino: 0 } : { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** Every path whose state the plan depends on besides the inventory text. */
function probedPaths(data: InventoryData, inventoryFile: string, root: string | undefined, syslinux: typeof SYSLINUX_PATHS, efi: typeof EFI_LOADER_PATHS): string[] {
  const paths = [under(root, data.site.exports.dir), ...syslinux.pxelinux0, ...syslinux.ldlinux];
  const loader = data.site.pxe.efiLoader;
  if (loader !== 'none') for (const l of efi[loader]) paths.push(...l.paths);
  // Identity pieces: each node's host keys and per-node source files; guests' ramdisks: the image initrds.
  const state = under(root, stateDir());
  const dir = dirname(inventoryFile);
  for (const [kind, section] of [['client', data.clients], ['guest', data.guests]] as const)
    for (const [name, node] of Object.entries(section)) {
      paths.push(hostKeysFile(state, inventoryFile, kind, name));
      const files = (node as { files?: Record<string, string | { source?: string | undefined }> }).files ?? {};
      for (const spec of Object.values(files)) if (typeof spec !== 'string' && spec.source) paths.push(resolve(dir, spec.source));
    }
  for (const g of Object.values(data.guests)) {
    const image = data.images[g.image];
    if (image?.kver) for (const t of ['xen', 'qemu'] as const) paths.push(bootFiles(data.site, g.image, image, t).initrd);
  }
  if (data.site.pxe.tftpUser) paths.push('/etc/passwd');
  for (const [name, image] of Object.entries(data.images)) {
    if (!image.kver) continue;
    const b = bootFiles(data.site, name, image, 'pxe');
    paths.push(b.kernel, b.initrd);
  }
  return paths;
}

function sameStats(a: PlanInputs['stats']): boolean {
  for (const [path, rec] of Object.entries(a)) {
    const now = statRecord(path);
    if (JSON.stringify(now) !== JSON.stringify(rec)) return false;
  }
  return true;
}

/**
 * Syncs under the inventory's lock (a dry run reads only): two syncs never interleave, and the
 * inventory cannot change between the plan and the manifest that records it.
 */
export async function sync(inventoryFile: string, opts: SyncOptions = {}): Promise<SyncResult> {
  const file = resolve(inventoryFile);
  if (opts.dryRun || !existsSync(file)) return syncUnlocked(file, opts);
  return withInventoryLock(file, () => syncUnlocked(file, opts));
}

async function syncUnlocked(inventoryFile: string, opts: SyncOptions): Promise<SyncResult> {
  const t0 = performance.now();
  const root = opts.root;
  const warnings: string[] = [];
  const file = resolve(inventoryFile);
  const mtarget = manifestPath(file, root);
  const loaded = readManifest(mtarget);
  const { manifest: prev, text: prevText } = loaded;
  if (loaded.warning) warnings.push(loaded.warning);
  // The plan is a pure function of the inventory text, the renderer code and the probed paths:
  // when none of them changed and every file is as xenroot left it, there is nothing to do.
  const invBytes = await readFile(file).catch(() => undefined);
  const invText = invBytes === undefined ? undefined : decodeInventory(invBytes, file).text;
  const fingerprint =
    invText === undefined ? '' : createHash('sha1').update(JSON.stringify([rendererStamp(), file, root ?? '', opts.syslinuxPaths ?? null, opts.efiPaths ?? null, invText])).digest('hex');
  const killedBefore = !opts.dryRun && interruptedApply(mtarget);
  if (!killedBefore && invText !== undefined && prev.inputs?.fingerprint === fingerprint && sameStats(prev.inputs.stats) && manifestIntact(prev, root)) {
    const n = Object.keys(prev.files).length;
    const ms = Math.round(performance.now() - t0);
    log().debug({ ms }, 'sync: inputs unchanged, tree intact');
    return {
      dryRun: !!opts.dryRun,
      ...(root ? { root } : {}),
      counts: { created: 0, updated: 0, removed: 0, unchanged: n },
      changes: [],
      warnings,
      reloads: [],
      manifest: mtarget,
      ms: { load: ms, plan: 0, apply: 0, total: ms },
    };
  }
  const inv = invText === undefined ? await loadInventory(file) : parseInventoryText(invText, file);
  if (!opts.dryRun) assertLockHeld(file);
  const data = inv.data;
  const site = data.site;
  const t1 = performance.now();

  const sources = { ...prev.sources };
  const stage = await stageImages(data, sources);
  warnings.push(...stage.warnings);
  const needSyslinux = stage.staged.size > 0 || Object.keys(data.clients).length > 0;
  const syslinux: PlanInput['syslinux'] = needSyslinux
    ? await findSyslinux(opts.syslinuxPaths)
    : { pxelinux0: '', pxelinux0Size: 0, ldlinux: '', ldlinuxSize: 0 };
  const efi = needSyslinux ? await findEfiLoader(site.pxe.efiLoader, opts.efiPaths) : [];
  const exportsDirExists = (await stat(under(root, site.exports.dir)).catch(() => undefined))?.isDirectory() ?? false;
  const dfile = dhcpFile(site);
  let dhcpShared = false;
  if (dfile) {
    const text = await readFile(under(root, dfile), 'utf8').catch(() => undefined);
    dhcpShared = text !== undefined && text !== '' && !isGenerated(text);
  }
  // Keep only the hashes of sources still in use.
  const used = new Set([...stage.staged.values()].flatMap((s) => [s.kernelSource, s.initrdSource]));
  for (const k of Object.keys(sources)) if (!used.has(k)) delete sources[k];

  // Per-node identity pieces (host keys made on first use, none in a dry run) and guests' ramdisks.
  const state = under(root, stateDir());
  const nodes = [...Object.keys(data.clients).map((name) => ({ kind: 'client' as const, name })), ...Object.keys(data.guests).map((name) => ({ kind: 'guest' as const, name }))];
  const identities = await nodeIdentities(data, file, state, nodes, { generate: !opts.dryRun });
  const ramdisks = guestRamdiskInputs(data, Object.keys(data.guests));
  const tftpOwner = site.pxe.tftpUser ? lookupUser(site.pxe.tftpUser) : undefined;
  const plan = planSync({ data, inventoryFile: file, staged: stage.staged, syslinux, efi, exportsDirExists, dhcpShared, identities, ramdisks, ...(tftpOwner ? { tftpOwner } : {}) });
  // A run killed mid-apply (SIGKILL) left temp files: recognised by their names, removed.
  if (killedBefore) for (const t of sweepAfterInterruptedApply([...plan.files.map((f) => f.path), ...Object.keys(prev.files)], root)) warnings.push(`removed ${t}, left by an interrupted run`);
  if (!opts.dryRun) beginApply(mtarget);
  warnings.push(...plan.warnings);
  const t2 = performance.now();

  const applied = await applyPlan(plan.files, prev, sources, {
    ...(root ? { root } : {}),
    dryRun: !!opts.dryRun,
    diff: !!opts.diff,
    ...(opts.chunk ? { chunk: opts.chunk } : {}),
    // A sync that was stopped past the lock's stale time applies nothing.
    beforeCommit: () => assertLockHeld(file),
  });
  if (!opts.dryRun) {
    const stats: PlanInputs['stats'] = {};
    for (const p of probedPaths(data, file, root, opts.syslinuxPaths ?? SYSLINUX_PATHS, opts.efiPaths ?? EFI_LOADER_PATHS)) stats[p] = statRecord(p);
    applied.manifest.inputs = { fingerprint, stats };
    assertLockHeld(file);
    await writeManifest(mtarget, applied.manifest, prevText);
    endApply(mtarget);
    // Host keys of nodes that left the inventory are secrets nobody needs any more.
    for (const k of pruneHostKeys(state, file, new Set(nodes.map((n) => nodeKey(n.kind, n.name))))) log().info({ file: k }, 'removed the host keys of a node no longer in the inventory');
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
  log().debug({ ms, counts: applied.counts }, 'sync done');
  return {
    dryRun: !!opts.dryRun,
    ...(root ? { root } : {}),
    counts: applied.counts,
    changes: applied.changes.filter((c) => c.outcome !== 'unchanged'),
    warnings,
    reloads,
    manifest: mtarget,
    ms,
  };
}
