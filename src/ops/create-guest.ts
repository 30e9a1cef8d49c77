/**
 * `xenroot create NAME`: adds a guest to the inventory and writes its NAME.cfg (xl) and NAME.xml
 * (libvirt) at its home (`--out DIR` is recorded as the guest's configDir, so every later
 * regeneration and `remove` use the same files). Either everything happens or nothing: a render
 * error stops it before any write, and a failed inventory save takes the files back.
 */
import { resolve } from 'node:path';
import { addGuestEntry, type GuestEntryOptions } from '../inventory/guests.js';
import { guestFiles } from '../inventory/paths.js';
import type { Guest } from '../inventory/schema.js';
import { updateInventory } from './steps/store.js';
import { writeGuestFiles } from './steps/guest-files.js';

export interface CreateGuestOptions extends Omit<GuestEntryOptions, 'configDir'> {
  /** Directory for NAME.cfg and NAME.xml (default: the site's guest directory, guests/ beside the inventory). */
  out?: string;
  /** Write the guest's files (and host keys, manifest) under this directory, as DESTDIR does (`--root DIR`). */
  root?: string;
}

export interface CreateGuestResult {
  name: string;
  guest: Guest;
  files: { cfg: string; xml: string };
}

export async function createGuest(inventoryFile: string, opts: CreateGuestOptions): Promise<CreateGuestResult> {
  const { out, root, ...entry } = opts;
  return updateInventory(inventoryFile, async (inv) => {
    const guest = addGuestEntry(inv, { ...entry, ...(out !== undefined ? { configDir: resolve(out) } : {}) });
    await writeGuestFiles(inv, [opts.name], root);
    const f = guestFiles(inv.data, inv.path, opts.name);
    return { name: opts.name, guest, files: { cfg: f.cfg, xml: f.xml } };
  });
}
