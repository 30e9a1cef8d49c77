/**
 * `xenroot client add|set|remove|list|show|import`: physical PXE clients; their files come from
 * `xenroot sync`. A client is named by its name or its MAC in any notation; set and remove take
 * several at once (names, MACs, ranges such as lab-[01-40]), in one locked, atomic write.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { addClientEntry, removeClientEntry, setClientEntries, type ClientChanges, type ClientEntryOptions } from '../inventory/clients.js';
import type { ImportFormat } from '../inventory/constants.js';
import { parseImport } from '../inventory/import.js';
import { applyImport, planImport, type ImportDefaults, type ImportLine, type ImportOutcome } from '../inventory/import-apply.js';
import { resolveNodeRefs } from '../inventory/refs.js';
import type { Client } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';
import { InventoryError, UsageError } from '../sys/errors.js';

export interface ClientResult {
  name: string;
  client: Client;
}

export async function addClient(inventoryFile: string, opts: ClientEntryOptions): Promise<ClientResult> {
  return updateInventory(inventoryFile, (inv) => addClientEntry(inv, opts));
}

/** Changes one or several clients (names, MACs, ranges); a new MAC only for one client at a time. */
export async function setClients(inventoryFile: string, refs: string[], opts: ClientChanges): Promise<(ClientResult & { changed: boolean })[]> {
  return updateInventory(inventoryFile, (inv) => {
    const names = resolveNodeRefs(inv.data, 'client', refs);
    if (opts.mac !== undefined && names.length > 1) throw new UsageError(`--mac sets the MAC of one client, not of ${names.length}`);
    return setClientEntries(inv, names, opts).map((r, i) => ({ name: names[i] as string, ...r }));
  });
}

/** setClients for one client (name or MAC). */
export async function setClient(inventoryFile: string, ref: string, opts: ClientChanges): Promise<ClientResult & { changed: boolean }> {
  return (await setClients(inventoryFile, [ref], opts))[0]!;
}

/** Removes one or several clients (names, MACs, ranges) in one write. */
export async function removeClients(inventoryFile: string, refs: string[]): Promise<ClientResult[]> {
  return updateInventory(inventoryFile, (inv) => resolveNodeRefs(inv.data, 'client', refs).map((name) => ({ name, client: removeClientEntry(inv, name) })));
}

export async function removeClient(inventoryFile: string, ref: string): Promise<ClientResult> {
  return (await removeClients(inventoryFile, [ref]))[0]!;
}

export { getClient, listClients } from './client-info.js';

export interface ImportOptions extends ImportDefaults {
  /** Default: detected from the content (dhcp-host lines, host blocks, else CSV). */
  format?: ImportFormat;
  /** Check and report, write nothing. */
  dryRun?: boolean;
}

export interface ImportResult {
  file: string;
  format: ImportFormat;
  dryRun: boolean;
  counts: Record<ImportOutcome, number>;
  lines: ImportLine[];
}

/**
 * `xenroot client import FILE`: adds or updates many clients from a CSV file, a dnsmasq
 * dhcp-host list or ISC host blocks, in one locked atomic write of the inventory. A file with any
 * bad line is refused whole (InventoryError naming FILE:LINE), and nothing is written.
 */
export async function importClients(inventoryFile: string, file: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const path = resolve(file);
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  const { format, rows } = parseImport(text, file, opts.format);
  const defaults: ImportDefaults = {};
  if (opts.group !== undefined) defaults.group = opts.group;
  if (opts.image !== undefined) defaults.image = opts.image;
  const run = (inv: Awaited<ReturnType<typeof loadInventory>>) => {
    if (defaults.group !== undefined && !Object.hasOwn(inv.data.groups ?? {}, defaults.group)) throw new InventoryError(`group "${defaults.group}" is not in the inventory`);
    const plan = planImport(inv.data, rows, file, defaults);
    if (!opts.dryRun) applyImport(inv, plan.entries);
    const counts: Record<ImportOutcome, number> = { added: 0, updated: 0, unchanged: 0, ignored: 0 };
    for (const l of plan.lines) counts[l.outcome]++;
    return { file: path, format, dryRun: !!opts.dryRun, counts, lines: plan.lines };
  };
  if (opts.dryRun) return run(await loadInventory(inventoryFile));
  return updateInventory(inventoryFile, run);
}
