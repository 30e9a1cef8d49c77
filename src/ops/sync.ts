/**
 * `xenroot sync`: renders every generated file from the inventory (guest .cfg/.xml, TFTP tree,
 * DHCP, exports) and applies it idempotently; then reloads what changed. A re-run with no
 * inventory change writes nothing. `root` writes every path under a directory (DESTDIR style)
 * and skips the reload hooks.
 *
 * Three speeds, each as safe as the full one:
 * - nothing changed (inventory text, code, probed files) and every file is as xenroot left it:
 *   nothing is loaded or rendered (one stat per owned file);
 * - only some guests and clients changed (the site, images and groups did not): only their files
 *   and the site's shared files are rendered and applied; the other owners' files are checked
 *   (stat) and carried over. The previous model is the snapshot kept beside the manifest;
 * - otherwise the full plan.
 * The model itself comes from the model cache (inventory/model-cache.ts) when xenroot saved the
 * inventory last.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { withInventoryLock } from '../inventory/lock.js';
import { applyMarkPath, intactFileCount, manifestPath } from '../deploy/manifest.js';
import { fingerprints, sameStats, type SyncOptions, type SyncResult } from './steps/sync-inputs.js';

export type { SyncOptions, SyncResult } from './steps/sync-inputs.js';

/**
 * The no-op check, without the lock and without loading the planner: the inventory text, the
 * code and the probed files are what the manifest was planned from, and every file is as xenroot
 * left it. Safe unlocked: it answers "nothing to do" only for a state that was complete when it
 * looked (a sync running meanwhile has changed files or not yet written its manifest).
 */
function noOp(file: string, opts: SyncOptions, t0: number): SyncResult | undefined {
  // A plan from a given text or given revision facts (rollout, publish, prune) always plans.
  if (opts.inventory !== undefined || opts.revisions) return undefined;
  const root = opts.root;
  const mtarget = manifestPath(file, root);
  let invText: string;
  let manifestText: string;
  try {
    invText = readFileSync(file, 'utf8');
    manifestText = readFileSync(mtarget, 'utf8');
  } catch {
    return undefined;
  }
  // An apply that was killed (its mark is still there) is never a no-op: the full path sweeps after it.
  if (existsSync(applyMarkPath(mtarget))) return undefined;
  const { base, fingerprint } = fingerprints(file, opts, invText);
  const intact = intactFileCount(manifestText, fingerprint, root);
  if (!intact || intact.inputs.base !== base || !sameStats(intact.inputs.stats)) return undefined;
  const ms = Math.round(performance.now() - t0);
  return {
    dryRun: !!opts.dryRun,
    ...(root ? { root } : {}),
    counts: { created: 0, updated: 0, removed: 0, unchanged: intact.count },
    changes: [],
    warnings: [],
    reloads: [],
    manifest: mtarget,
    mode: 'no-op',
    ms: { load: ms, plan: 0, apply: 0, total: ms },
  };
}

/**
 * Syncs under the inventory's lock (a dry run reads only): two syncs never interleave, and the
 * inventory cannot change between the plan and the manifest that records it.
 */
export async function sync(inventoryFile: string, opts: SyncOptions = {}): Promise<SyncResult> {
  const t0 = performance.now();
  const file = resolve(inventoryFile);
  const quick = noOp(file, opts, t0);
  if (quick) return quick;
  const { syncUnlocked } = await import('./steps/sync-apply.js');
  if (opts.dryRun || !existsSync(file)) return syncUnlocked(file, opts, t0);
  return withInventoryLock(file, () => syncUnlocked(file, opts, t0));
}

