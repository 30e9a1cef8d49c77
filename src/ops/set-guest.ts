/**
 * `xenroot set NAME`: changes the identity of a guest (host name, static address, gateway,
 * per-node files) and rewrites its files (its .cfg/.xml and its ramdisks, which carry the
 * identity piece), under the inventory's lock; a failed save takes the files back.
 */
import { setGuestIdentity } from '../inventory/guests.js';
import type { IdentityFlags } from '../inventory/identity.js';
import type { Guest } from '../inventory/schema.js';
import { updateInventory } from './steps/store.js';
import { writeGuestFiles } from './steps/guest-files.js';

export interface SetGuestResult {
  name: string;
  guest: Guest;
  changed: boolean;
  /** Files written (created or updated). */
  written: string[];
}

/** Changes the guest's identity and rewrites its files; with `root` (--root DIR) they are written under DIR. */
export async function setGuest(inventoryFile: string, name: string, flags: IdentityFlags, opts: { root?: string } = {}): Promise<SetGuestResult> {
  return updateInventory(inventoryFile, async (inv) => {
    const r = setGuestIdentity(inv, name, flags);
    const applied = await writeGuestFiles(inv, [name], opts.root);
    return { name, ...r, written: applied.changes.filter((c) => c.outcome === 'created' || c.outcome === 'updated').map((c) => c.target) };
  });
}
