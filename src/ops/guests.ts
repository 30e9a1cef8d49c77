/** `xenroot list`, `show NAME`, `render NAME`: reading guests and their generated files. */
import { explainGuest, type EffectiveGuest, type ValueSource } from '../inventory/effective.js';
import { requireNodeRef } from '../inventory/refs.js';
import { loadInventory } from '../inventory/store.js';
import { renderGuest, type GuestFormat } from '../render/guest-files.js';

/** Every guest with its group's and the site's values applied. */
export async function listGuests(inventoryFile: string): Promise<Record<string, EffectiveGuest>> {
  const inv = await loadInventory(inventoryFile);
  const out: Record<string, EffectiveGuest> = {};
  for (const name of Object.keys(inv.data.guests)) out[name] = explainGuest(inv.data, name, undefined, undefined, false).value;
  return out;
}

export interface GuestShow {
  name: string;
  guest: EffectiveGuest;
  /** Where each group-able value came from (own, group G, site, default). */
  sources: Record<string, ValueSource>;
}

/** One guest (by name or pinned MAC) with its effective values and where each came from. */
export async function showGuest(inventoryFile: string, ref: string): Promise<GuestShow> {
  const inv = await loadInventory(inventoryFile);
  const name = requireNodeRef(inv.data, 'guest', ref);
  const e = explainGuest(inv.data, name, undefined, inv.siteKeys);
  return { name, guest: e.value, sources: e.sources };
}

/** The text of one generated file of a guest, as `xenroot sync` would write it. */
export async function renderGuestText(inventoryFile: string, name: string, format: GuestFormat): Promise<string> {
  return renderGuest((await loadInventory(inventoryFile)).data, name, format);
}
