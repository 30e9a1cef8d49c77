/** `xenroot remove NAME`: removes a guest from the inventory and deletes its generated files at their recorded home. */
import { removeGuestEntry } from '../inventory/guests.js';
import { updateInventory } from './steps/store.js';
import { removeGuestFiles } from './steps/guest-files.js';

export async function removeGuest(inventoryFile: string, name: string): Promise<{ name: string; removedFiles: string[] }> {
  return updateInventory(inventoryFile, async (inv) => {
    const before = inv.data;
    removeGuestEntry(inv, name);
    inv.revalidate();
    const removedFiles = await removeGuestFiles(inv, before, name);
    return { name, removedFiles };
  });
}
