/**
 * The names of the inventory's entries for shell completion (`xenroot __complete KIND`): read
 * from the cached model, so a completion costs about a `node` start.
 */
import { loadModel } from './steps/store.js';

export const NAME_KINDS = ['guests', 'clients', 'images', 'groups'] as const;
export type NameKind = (typeof NAME_KINDS)[number];

/** The names of one section, in inventory order. */
export async function entryNames(inventoryFile: string, kind: NameKind): Promise<string[]> {
  const { data } = await loadModel(inventoryFile);
  return Object.keys((data[kind] ?? {}) as Record<string, unknown>);
}
