/**
 * Edits of the groups section of an open inventory (inside `updateInventory`): groups (profiles)
 * carry defaults their member clients and guests take (effective.ts). A group still named by a
 * node cannot be removed.
 */
import { InventoryError } from '../sys/errors.js';
import { groupMembers } from './effective.js';
import { findEntry } from './lookup.js';
import { FIELDS, checkEntryName, flagValue, type Group } from './schema.js';
import type { Inventory } from './store.js';
import { requireGroup } from './clients.js';
import { editedFiles } from './identity-edit.js';

/** The settings of a group as flags give them; "" removes one (group set). */
export interface GroupFields {
  image?: string;
  append?: string;
  root?: string;
  connect?: string;
  bridge?: string;
  names?: string;
  description?: string;
  /** `--file DEST=SOURCE` (repeatable): a file every member gets; `DEST=` removes it. */
  files?: string[];
}

const FLAGS: Record<Exclude<keyof GroupFields, 'files'>, string> = {
  image: '--image',
  append: '--append',
  root: '--root',
  connect: '--connect',
  bridge: '--bridge',
  names: '--names',
  description: '--description',
};

function checkImage(inv: Inventory, image: string): void {
  if (!findEntry(inv.data, 'image', image))
    throw new InventoryError(`image "${image}" is not in the inventory`, { hint: `known images: ${Object.keys(inv.data.images).join(', ') || 'none'}` });
}

/** Adds a group; InventoryError for a duplicate name, an unknown image or a bad value. */
export function addGroupEntry(inv: Inventory, name: string, fields: GroupFields): Group {
  checkEntryName('group', name);
  if (Object.hasOwn(inv.data.groups ?? {}, name)) throw new InventoryError(`group "${name}" exists already`, { hint: '`xenroot group set NAME ...` changes it' });
  const entry: Record<string, unknown> = {};
  const { files, ...scalars } = fields;
  for (const [k, v] of Object.entries(scalars) as [keyof typeof FLAGS, string | undefined][]) {
    if (v === undefined || v === '') continue;
    entry[k] = flagValue(FIELDS.groups[k], FLAGS[k], v);
  }
  if (typeof entry.image === 'string') checkImage(inv, entry.image);
  if (files?.length) {
    const merged = editedFiles({}, files, FIELDS.groups.files);
    if (merged) entry.files = merged;
  }
  inv.set(['groups', name], entry);
  inv.revalidate();
  return inv.data.groups[name] as Group;
}

/** Changes a group's settings ("" removes one); returns whether anything changed. */
export function setGroupEntry(inv: Inventory, name: string, fields: GroupFields): { group: Group; changed: boolean } {
  const before = JSON.stringify(requireGroup(inv.data, name));
  const { files, ...scalars } = fields;
  if (files?.length) inv.set(['groups', name, 'files'], editedFiles((requireGroup(inv.data, name).files ?? {}) as Record<string, unknown>, files, FIELDS.groups.files));
  for (const [k, v] of Object.entries(scalars) as [keyof typeof FLAGS, string | undefined][]) {
    if (v === undefined) continue;
    if (v === '') inv.delete(['groups', name, k]);
    else {
      const value = flagValue(FIELDS.groups[k], FLAGS[k], v);
      if (k === 'image') checkImage(inv, value as string);
      inv.set(['groups', name, k], value);
    }
  }
  inv.revalidate();
  const group = inv.data.groups[name] as Group;
  return { group, changed: JSON.stringify(group) !== before };
}

/** Removes a group; refuses while a client or guest names it. */
export function removeGroupEntry(inv: Inventory, name: string): Group {
  const group = requireGroup(inv.data, name);
  const m = groupMembers(inv.data, name);
  const members = [...m.clients.map((n) => `client ${n}`), ...m.guests.map((n) => `guest ${n}`)];
  if (members.length)
    throw new InventoryError(`group "${name}" still has ${members.length} member${members.length > 1 ? 's' : ''}: ${members.slice(0, 5).join(', ')}${members.length > 5 ? ', ...' : ''}`, {
      hint: 'move them out first (`xenroot client set NAMES --group ""`, or into another group)',
    });
  inv.delete(['groups', name]);
  return group;
}
