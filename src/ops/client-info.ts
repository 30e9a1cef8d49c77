/**
 * Reading clients (`client list`, `client show`): from the cached model (inventory/model.ts), so
 * that a list of 10,000 clients loads neither the schema nor a YAML parser.
 */
import { effectiveClient, explainClient, type EffectiveClient, type ValueSource } from '../inventory/effective.js';
import { loadModel } from './steps/store.js';
import { requireNodeRef } from '../inventory/refs.js';

export interface ClientShow {
  name: string;
  /** The client as it boots: own values, else its group's. */
  client: EffectiveClient;
  /** Where each group-able value came from. */
  sources: Record<string, ValueSource>;
}

/** One client (by name or MAC) with its effective values and where each came from. */
export async function getClient(inventoryFile: string, ref: string): Promise<ClientShow> {
  const m = await loadModel(inventoryFile);
  const name = requireNodeRef(m.data, 'client', ref);
  const e = explainClient(m.data, name, undefined, new Set(m.siteKeys));
  return { name, client: e.value, sources: e.sources };
}

/** Every client, with its group's values applied (what `sync` renders). */
export async function listClients(inventoryFile: string): Promise<Record<string, EffectiveClient>> {
  const { data } = await loadModel(inventoryFile);
  const out: Record<string, EffectiveClient> = {};
  for (const name in data.clients) out[name] = effectiveClient(data, name, data.clients[name]);
  return out;
}
