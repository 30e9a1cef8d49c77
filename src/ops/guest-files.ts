/**
 * The one writer of a guest's generated files (NAME.cfg and NAME.xml at the guest's recorded
 * home), shared by create, the first-boot MAC pin, `mac --set/--unpin`, start and remove: the
 * files are planned from the model as the open inventory has it and applied through the same
 * plan/apply path as `xenroot sync`, recorded in the same manifest. Must run inside
 * `updateInventory` (the lock is held); if the inventory cannot be saved afterwards, the files
 * are put back as they were.
 */
import { readFileSync } from 'node:fs';
import { applyOwned, type ApplyResult } from '../deploy/apply.js';
import { manifestPath } from '../deploy/manifest.js';
import { planGuestFiles, planGuestRamdisks } from '../deploy/plan.js';
import { stateDir } from '../inventory/paths.js';
import { guestRamdiskInputs, nodeIdentities } from './identity.js';
import type { Inventory } from '../inventory/store.js';
import { removeFile, writeFileAtomic } from '../sys/atomic.js';

/**
 * Writes (or rewrites, when changed) the files of `names` from the open inventory's model: their
 * .cfg and .xml, and their own ramdisks (the image's initrd with the guest's identity piece, for
 * each flavour whose image initrd is built; host keys made on first use).
 */
export async function writeGuestFiles(inv: Inventory, names: string[]): Promise<ApplyResult> {
  const identities = await nodeIdentities(inv.data, inv.path, stateDir(), names.map((name) => ({ kind: 'guest' as const, name })));
  const files = [...planGuestFiles(inv.data, inv.path, names), ...planGuestRamdisks(names, guestRamdiskInputs(inv.data, names), identities)];
  const r = await applyOwned(files, names.map((n) => `guest:${n}`), manifestPath(inv.path));
  inv.onSaveFailure(async () => r.undo());
  return r;
}

/**
 * Removes the files of a guest that is being removed: those the manifest records for it, and
 * those at its home that are exactly what xenroot would write (files generated before the
 * manifest knew them). `before` is the model that still holds the guest. Returns the removed paths.
 */
export async function removeGuestFiles(inv: Inventory, before: Inventory['data'], name: string): Promise<string[]> {
  const r = await applyOwned([], [`guest:${name}`], manifestPath(inv.path));
  inv.onSaveFailure(async () => r.undo());
  const removed = r.changes.filter((c) => c.outcome === 'removed').map((c) => c.target);
  for (const f of planGuestFiles(before, inv.path, [name])) {
    if (f.kind !== 'text' || removed.includes(f.path)) continue;
    let text: string | undefined;
    try {
      text = readFileSync(f.path, 'utf8');
    } catch {
      continue;
    }
    if (text !== f.content) continue;
    removeFile(f.path);
    inv.onSaveFailure(() => writeFileAtomic(f.path, f.content));
    removed.push(f.path);
  }
  return removed;
}
