/** Writes NAME.cfg and NAME.xml of a guest into the guest directory (idempotent, atomic). */
import { rm } from 'node:fs/promises';
import type { Inventory } from '../inventory/store.js';
import { guestFiles } from '../inventory/paths.js';
import { renderGuest } from '../render/guest-files.js';
import { writeIfChanged, type WriteOutcome } from './write.js';

export interface GuestFilesResult {
  cfg: string;
  xml: string;
  outcomes: { cfg: WriteOutcome; xml: WriteOutcome };
}

export async function writeGuestFiles(inv: Inventory, name: string, dir = inv.guestDir): Promise<GuestFilesResult> {
  const files = guestFiles(dir, name);
  // Render both before writing either: a render error must not leave one file updated.
  const cfgText = renderGuest(inv.data, name, 'xl');
  const xmlText = renderGuest(inv.data, name, 'libvirt');
  const cfg = await writeIfChanged(files.cfg, cfgText);
  const xml = await writeIfChanged(files.xml, xmlText);
  return { cfg: files.cfg, xml: files.xml, outcomes: { cfg, xml } };
}

export async function removeGuestFiles(dir: string, name: string): Promise<string[]> {
  const files = guestFiles(dir, name);
  const removed: string[] = [];
  for (const f of [files.cfg, files.xml, files.qemuXml]) {
    try {
      await rm(f);
      removed.push(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
