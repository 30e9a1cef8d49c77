/** `xenroot list`, `show NAME`, `render NAME`: reading guests and their generated files. */
import { revisionModel } from './steps/revision-model.js';
import { explainGuest, type EffectiveGuest, type ValueSource } from '../inventory/effective.js';
import { requireNodeRef } from '../inventory/refs.js';
import { loadModel } from './steps/store.js';
import type { GuestFormat } from '../render/guest-files.js';

/** Every guest with its group's and the site's values applied. */
export async function listGuests(inventoryFile: string): Promise<Record<string, EffectiveGuest>> {
  const { data } = await loadModel(inventoryFile);
  const out: Record<string, EffectiveGuest> = {};
  for (const name of Object.keys(data.guests)) out[name] = explainGuest(data, name, undefined, undefined, false).value;
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
  const m = await loadModel(inventoryFile);
  const name = requireNodeRef(m.data, 'guest', ref);
  const e = explainGuest(m.data, name, undefined, new Set(m.siteKeys));
  return { name, guest: e.value, sources: e.sources };
}

/** The text of one generated file of a guest, as `xenroot sync` would write it. */
export async function renderGuestText(inventoryFile: string, name: string, format: GuestFormat): Promise<string> {
  const { renderGuest } = await import('../render/guest-files.js');
  return renderGuest(revisionModel((await loadModel(inventoryFile)).data), name, format);
}
