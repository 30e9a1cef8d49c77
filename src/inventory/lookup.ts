/**
 * Looking up named entries of the inventory: own properties only (a name such as "constructor"
 * or "toString" is an entry or nothing, never a built-in of JavaScript objects), with the one
 * error every command gives when the entry is missing.
 */
import { InventoryError } from '../sys/errors.js';
import type { Client, Group, Guest, Host, Image, InventoryData } from './schema.js';

const SECTIONS = {
  guest: { key: 'guests', list: '`xenroot list` shows the guests' },
  image: { key: 'images', list: '`xenroot image list` shows the images' },
  client: { key: 'clients', list: '`xenroot client list` shows the clients' },
  host: { key: 'hosts', list: '`xenroot host list` shows the hosts' },
  group: { key: 'groups', list: '`xenroot group list` shows the groups' },
} as const;

type Kind = keyof typeof SECTIONS;
type EntryOf<K extends Kind> = K extends 'guest' ? Guest : K extends 'image' ? Image : K extends 'host' ? Host : K extends 'group' ? Group : Client;

/** The entry, or undefined: only an own property of the section counts. */
export function findEntry<K extends Kind>(data: InventoryData, kind: K, name: string): EntryOf<K> | undefined {
  const section = (data[SECTIONS[kind].key] ?? {}) as Record<string, unknown>;
  return Object.hasOwn(section, name) ? (section[name] as EntryOf<K>) : undefined;
}

/** The entry, or an InventoryError `no guest named "X" in the inventory` with a hint listing where to look. */
export function requireEntry<K extends Kind>(data: InventoryData, kind: K, name: string): EntryOf<K> {
  const entry = findEntry(data, kind, name);
  if (entry === undefined) throw new InventoryError(`no ${kind} named "${name}" in the inventory`, { hint: SECTIONS[kind].list });
  return entry;
}
