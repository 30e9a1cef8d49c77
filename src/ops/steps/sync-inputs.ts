/**
 * What a sync's plan depends on besides the inventory text, and the cheap check that nothing
 * changed at all (shared by the no-op check of ops/sync.ts and the planner of ops/sync-apply.ts).
 */
import type { NodeFailure } from '../../deploy/node-faults.js';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bootFiles, bootHttpBase, stateDir } from '../../inventory/paths.js';
import { effectiveGuest } from '../../inventory/effective.js';
import type { InventoryData } from '../../inventory/schema.js';
import { codeStamp } from '../../sys/stamp.js';
import { manifestIntact, type LoadedManifest, type PlanInputs } from '../../deploy/manifest.js';
import { EFI_LOADER_PATHS, SYSLINUX_PATHS } from '../../deploy/tftp.js';
import { hostKeyHolder, hostKeysFile } from '../../deploy/host-keys.js';
import { under } from '../../deploy/manifest.js';
import type { FileChange, Outcome } from '../../deploy/apply.js';
import type { ReloadResult } from '../../deploy/reload.js';
import { isRevisionEntry, type RevisionIndex } from '../../inventory/revisions.js';
import { revisionIndexPath } from '../../inventory/revision-store.js';

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
  /**
   * Plan from this in-memory inventory instead of the file's (a command that edits the inventory
   * applies the files it is about to save): its text (for the fingerprints), its validated model
   * and the site keys its text gives. Nothing is parsed again.
   */
  inventory?: { text: string; data: InventoryData; siteKeys: string[] };
  /** Revision facts to plan with instead of the recorded ones (a dry run of publish or prune). */
  revisions?: Map<string, RevisionIndex>;
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
  /** Which path the sync took: nothing to do, a plan of the changed owners only, or the full plan. */
  mode: 'no-op' | 'incremental' | 'full';
  ms: { load: number; plan: number; apply: number; total: number };
  /** Nodes whose files could not be rendered or written: every other node was written. */
  failures?: NodeFailure[];
}


type StatRecord = PlanInputs['stats'][string];

export function statRecord(path: string): StatRecord {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return null;
  // Directories count by existence only (their mtime moves with every file inside).
  return st.isDirectory() ? { size: -1, mtimeMs: 0, ino: 0 } : { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** Every path whose state the plan depends on besides the inventory text. */
export function probedPaths(data: InventoryData, inventoryFile: string, root: string | undefined, syslinux: typeof SYSLINUX_PATHS, efi: typeof EFI_LOADER_PATHS): string[] {
  const paths = [under(root, data.site.exports.dir), ...syslinux.pxelinux0, ...syslinux.ldlinux];
  const loader = data.site.pxe.efiLoader;
  if (loader !== 'none') for (const l of efi[loader]) paths.push(...l.paths);
  // iPXE is staged for UEFI HTTP Boot clients too when the site boots over HTTP (sync-apply.ts).
  if (loader !== 'none' && loader !== 'ipxe' && bootHttpBase(data.site)) for (const l of efi.ipxe) paths.push(...l.paths);
  // Identity pieces: each node's host keys and per-node source files; guests' ramdisks: the image initrds.
  const state = under(root, stateDir(inventoryFile, data.site));
  const dir = dirname(inventoryFile);
  for (const [kind, section] of [['client', data.clients], ['guest', data.guests]] as const)
    for (const [name, node] of Object.entries(section)) {
      paths.push(hostKeysFile(state, inventoryFile, hostKeyHolder(kind, name, (node as { mac?: string }).mac)));
      const files = (node as { files?: Record<string, string | { source?: string | undefined }> }).files ?? {};
      for (const spec of Object.values(files)) if (typeof spec !== 'string' && spec.source) paths.push(resolve(dir, spec.source));
    }
  for (const [name, g] of Object.entries(data.guests)) {
    const imageName = effectiveGuest(data, name, g).image;
    const image = data.images[imageName];
    if (image?.kver) for (const t of ['xen', 'qemu'] as const) paths.push(bootFiles(data.site, imageName, image, t).initrd);
  }
  if (data.site.pxe.tftpUser) paths.push('/etc/passwd');
  // The recorded revisions of each image: publish and prune change what is exported and staged.
  for (const name of Object.keys(data.images)) if (!isRevisionEntry(name)) paths.push(revisionIndexPath(data.site, name));
  for (const [name, image] of Object.entries(data.images)) {
    if (!image.kver) continue;
    const b = bootFiles(data.site, name, image, 'pxe');
    paths.push(b.kernel, b.initrd);
  }
  return paths;
}

export function sameStats(a: PlanInputs['stats']): boolean {
  for (const [path, rec] of Object.entries(a)) {
    const now = statRecord(path);
    if (JSON.stringify(now) !== JSON.stringify(rec)) return false;
  }
  return true;
}


/** The fingerprints of a sync: `base` (code, file, root, probed paths' places) and of the whole input (base + inventory text). */
export function fingerprints(file: string, opts: SyncOptions, invText: string | undefined): { base: string; fingerprint: string } {
  const base = createHash('sha1').update(JSON.stringify([codeStamp(), file, opts.root ?? '', opts.syslinuxPaths ?? null, opts.efiPaths ?? null])).digest('hex');
  const fingerprint = invText === undefined ? '' : createHash('sha1').update(base).update('\0').update(invText).digest('hex');
  return { base, fingerprint };
}

/**
 * Whether the manifest still describes the disk and the plan's inputs besides the text: same
 * code, root and probed files, and every file as xenroot left it (one stat per file).
 */
export function inputsIntact(loaded: LoadedManifest, base: string, root: string | undefined): boolean {
  const prev = loaded.manifest;
  return !!prev.inputs && prev.inputs.base === base && sameStats(prev.inputs.stats) && manifestIntact(prev, root);
}
