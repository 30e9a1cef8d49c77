/** `xenroot client add|set|remove|list|show`: physical PXE clients; their files come from `xenroot sync`. */
import { addClientEntry, removeClientEntry, setClientEntry, type ClientChanges, type ClientEntryOptions } from '../inventory/clients.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Client } from '../inventory/schema.js';
import { loadInventory, updateInventory } from '../inventory/store.js';

export interface ClientResult {
  name: string;
  client: Client;
}

export async function addClient(inventoryFile: string, opts: ClientEntryOptions): Promise<ClientResult> {
  return updateInventory(inventoryFile, (inv) => addClientEntry(inv, opts));
}

export async function setClient(inventoryFile: string, name: string, opts: ClientChanges): Promise<ClientResult & { changed: boolean }> {
  return updateInventory(inventoryFile, (inv) => ({ name, ...setClientEntry(inv, name, opts) }));
}

export async function removeClient(inventoryFile: string, name: string): Promise<ClientResult> {
  return updateInventory(inventoryFile, (inv) => ({ name, client: removeClientEntry(inv, name) }));
}

export async function getClient(inventoryFile: string, name: string): Promise<ClientResult> {
  return { name, client: requireEntry((await loadInventory(inventoryFile)).data, 'client', name) };
}

export async function listClients(inventoryFile: string): Promise<Record<string, Client>> {
  return (await loadInventory(inventoryFile)).data.clients;
}
