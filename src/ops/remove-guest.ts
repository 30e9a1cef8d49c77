/** `xenroot remove NAME`: removes a guest from the inventory and deletes its generated files at their recorded home. */
import { removeGuestEntry } from '../inventory/guests.js';
import { updateInventory } from './steps/store.js';
import { removeGuestFiles } from './steps/guest-files.js';

/** Removes the guest and its files; with `root` (--root DIR) the files under DIR (and the manifest there). */
export async function removeGuest(inventoryFile: string, name: string, opts: { root?: string } = {}): Promise<{ name: string; removedFiles: string[] }> {
  return updateInventory(inventoryFile, async (inv) => {
    const before = inv.data;
    removeGuestEntry(inv, name);
    inv.revalidate();
    const removedFiles = await removeGuestFiles(inv, before, name, opts.root);
    return { name, removedFiles };
  });
}
