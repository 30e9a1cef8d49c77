/** `xenroot list`, `show NAME`, `render NAME`: reading guests and their generated files. */
import { revisionModel } from './revision-model.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Guest } from '../inventory/schema.js';
import { loadInventory } from '../inventory/store.js';
import { renderGuest, type GuestFormat } from '../render/guest-files.js';

export async function listGuests(inventoryFile: string): Promise<Record<string, Guest>> {
  return (await loadInventory(inventoryFile)).data.guests;
}

export async function showGuest(inventoryFile: string, name: string): Promise<Guest> {
  return requireEntry((await loadInventory(inventoryFile)).data, 'guest', name);
}

/** The text of one generated file of a guest, as `xenroot sync` would write it. */
export async function renderGuestText(inventoryFile: string, name: string, format: GuestFormat): Promise<string> {
  return renderGuest(revisionModel((await loadInventory(inventoryFile)).data), name, format);
}
