/** Looking up a named entry of the inventory, with the one error every command gives when it is missing. */
import { InventoryError } from '../errors.js';
import type { Client, Guest, Image, InventoryData } from './schema.js';

const SECTIONS = {
  guest: { key: 'guests', list: '`xenroot list` shows the guests' },
  image: { key: 'images', list: '`xenroot image list` shows the images' },
  client: { key: 'clients', list: '`xenroot client list` shows the clients' },
} as const;

type Kind = keyof typeof SECTIONS;
type EntryOf<K extends Kind> = K extends 'guest' ? Guest : K extends 'image' ? Image : Client;

export function requireEntry<K extends Kind>(data: InventoryData, kind: K, name: string): EntryOf<K> {
  const s = SECTIONS[kind];
  const entry = (data[s.key] as Record<string, unknown>)[name];
  if (entry === undefined) throw new InventoryError(`no ${kind} named "${name}" in the inventory`, { hint: s.list });
  return entry as EntryOf<K>;
}
