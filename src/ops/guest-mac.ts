/** `xenroot mac NAME [--set MAC | --unpin]`: show or manage a guest's pinned MAC; its files follow. */
import { requireEntry } from '../inventory/lookup.js';
import { setGuestMacEntry } from '../inventory/guests.js';
import type { Guest } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';
import { writeGuestFiles } from './steps/guest-files.js';

/** The guest's pinned MAC and where it came from. */
export async function getGuestMac(inventoryFile: string, name: string): Promise<{ mac: string | undefined; macSource: Guest['macSource'] | undefined }> {
  const g = requireEntry((await loadInventory(inventoryFile)).data, 'guest', name);
  return { mac: g.mac, macSource: g.macSource };
}

/**
 * Pins `mac` on the guest (source 'given'), or removes the pin with mac undefined; NAME.cfg and
 * NAME.xml are rewritten at their home in the same locked step (under `root`, --root DIR, when given).
 */
export async function setGuestMac(inventoryFile: string, name: string, mac: string | undefined, opts: { root?: string } = {}): Promise<{ mac: string | undefined; changed: boolean }> {
  return updateInventory(inventoryFile, async (inv) => {
    const r = setGuestMacEntry(inv, name, mac, mac === undefined ? undefined : 'given');
    if (r.changed) await writeGuestFiles(inv, [name], opts.root);
    return r;
  });
}
