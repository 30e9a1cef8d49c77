/**
 * The one writer of a guest's generated files (NAME.cfg and NAME.xml at the guest's recorded
 * home), shared by create, the first-boot MAC pin, `mac --set/--unpin`, start and remove: the
 * files are planned from the model as the open inventory has it and applied through the same
 * plan/apply path as `xenroot sync`, recorded in the same manifest. Must run inside
 * `updateInventory` (the lock is held); if the inventory cannot be saved afterwards, the files
 * are put back as they were.
 */
import { lstatSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { symlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { guestFiles, stateDir } from '../../inventory/paths.js';
import { revisionModel } from './revision-model.js';
import { applyOwned, type ApplyResult } from '../../deploy/apply.js';
import { manifestPath, under } from '../../deploy/manifest.js';
import { planGuestFiles, planGuestRamdisks } from '../../deploy/plan.js';
import { guestRamdiskInputs, nodeIdentities } from './identity.js';
import type { Inventory } from './store.js';
import { removeFile, writeFileAtomic } from '../../sys/atomic.js';
import { generatedHostPaths } from './host-boot.js';

/**
 * Writes (or rewrites, when changed) the files of `names` from the open inventory's model: their
 * .cfg and .xml, and their own ramdisks (the image's initrd with the guest's identity piece, for
 * each flavour whose image initrd is built; host keys made on first use). With `root` (--root DIR)
 * every one of them, the host keys and the manifest too, is written under DIR, as DESTDIR does.
 */
export async function writeGuestFiles(inv: Inventory, names: string[], root?: string): Promise<ApplyResult> {
  // A guest on a published revision names that revision's boot files and export; a guest
  // on an inventory host names them where they are on that host; its ramdisk carries its
  // identity piece, beside the initrd of the image or revision it boots.
  const model = revisionModel(inv.data);
  const identities = await nodeIdentities(model, inv.path, under(root, stateDir(inv.path, inv.data.site)), names.map((name) => ({ kind: 'guest' as const, name })));
  const files = [...planGuestFiles(model, inv.path, names, await generatedHostPaths(model, names)), ...planGuestRamdisks(names, guestRamdiskInputs(model, names), identities)];
  const r = await applyOwned(files, names.map((n) => `guest:${n}`), manifestPath(inv.path, root), root ? { root } : {});
  inv.onSaveFailure(async () => r.undo());
  return r;
}

/**
 * Removes the files of a guest that is being removed: those the manifest records for it, and
 * those at its home that are exactly what xenroot would write (files generated before the
 * manifest knew them). `before` is the model that still holds the guest. Returns the removed paths
 * (as the site names them). With `root` (--root DIR) only the files under DIR are looked at.
 */
export async function removeGuestFiles(inv: Inventory, before: Inventory['data'], name: string, root?: string): Promise<string[]> {
  const r = await applyOwned([], [`guest:${name}`], manifestPath(inv.path, root), root ? { root } : {});
  inv.onSaveFailure(async () => r.undo());
  const removed = r.changes.filter((c) => c.outcome === 'removed').map((c) => c.target);
  // The guest's own paths (NAME.cfg, NAME.xml) reach their content through the node switch (plan.ts: nodeSwitch).
  const beforeModel = revisionModel(before);
  const planned = planGuestFiles(beforeModel, inv.path, [name], await generatedHostPaths(beforeModel, [name]));
  const contentOf = new Map(planned.flatMap((f) => (f.kind === 'text' ? [[basename(f.path), f.content] as const] : [])));
  const own = new Set([guestFiles(before, inv.path, name).cfg, guestFiles(before, inv.path, name).xml]);
  let kept = false;
  for (const path of own) {
    if (removed.includes(path)) continue;
    const at = under(root, path);
    const st = lstatSync(at, { throwIfNoEntry: false });
    if (!st) continue;
    let text: string | undefined;
    try {
      text = readFileSync(at, 'utf8');
    } catch {
      continue;
    }
    const want = contentOf.get(basename(path));
    if (text !== want) {
      kept = true;
      continue;
    }
    const link = st.isSymbolicLink() ? readlinkSync(at) : undefined;
    removeFile(at);
    inv.onSaveFailure(async () => (link === undefined ? writeFileAtomic(at, want) : symlink(link, at)));
    removed.push(path);
  }
  // The switch and the file set go with the last of those paths (a changed file keeps them).
  if (!kept) {
    for (const f of planned) {
      if (own.has(f.path)) continue;
      const at = under(root, f.path);
      if (f.kind === 'text') {
        let text: string | undefined;
        try {
          text = readFileSync(at, 'utf8');
        } catch {
          continue;
        }
        if (text !== f.content) continue;
      }
      removeFile(at);
      if (f.kind === 'text') {
        try {
          rmdirSync(dirname(at));
        } catch {
          /* not empty */
        }
      }
    }
  }
  return removed;
}
