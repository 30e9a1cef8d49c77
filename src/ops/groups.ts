/** `xenroot group add|set|list|show|remove`: groups (profiles) whose defaults their members take. */
import { groupMembers } from '../inventory/effective.js';
import { requireGroup } from '../inventory/clients.js';
import { addGroupEntry, removeGroupEntry, setGroupEntry, type GroupFields } from '../inventory/groups.js';
import type { Group } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';

export interface GroupResult {
  name: string;
  group: Group;
}

export interface GroupInfo extends GroupResult {
  clients: string[];
  guests: string[];
}

export async function addGroup(inventoryFile: string, name: string, fields: GroupFields): Promise<GroupResult> {
  return updateInventory(inventoryFile, (inv) => ({ name, group: addGroupEntry(inv, name, fields) }));
}

export async function setGroup(inventoryFile: string, name: string, fields: GroupFields): Promise<GroupResult & { changed: boolean }> {
  return updateInventory(inventoryFile, (inv) => ({ name, ...setGroupEntry(inv, name, fields) }));
}

export async function removeGroup(inventoryFile: string, name: string): Promise<GroupResult> {
  return updateInventory(inventoryFile, (inv) => ({ name, group: removeGroupEntry(inv, name) }));
}

/** One group with its member clients and guests. */
export async function showGroup(inventoryFile: string, name: string): Promise<GroupInfo> {
  const data = (await loadInventory(inventoryFile)).data;
  return { name, group: requireGroup(data, name), ...groupMembers(data, name) };
}

/** Every group with its members. */
export async function listGroups(inventoryFile: string): Promise<GroupInfo[]> {
  const data = (await loadInventory(inventoryFile)).data;
  const members = new Map<string, { clients: string[]; guests: string[] }>();
  for (const name of Object.keys(data.groups ?? {})) members.set(name, { clients: [], guests: [] });
  for (const [n, c] of Object.entries(data.clients)) if (c.group) members.get(c.group)?.clients.push(n);
  for (const [n, g] of Object.entries(data.guests)) if (g.group) members.get(g.group)?.guests.push(n);
  return Object.entries(data.groups ?? {}).map(([name, group]) => ({ name, group, ...members.get(name)! }));
}
