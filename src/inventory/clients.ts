/**
 * Physical PXE clients in the inventory: add, set, remove, list, show. A client is a MAC that
 * boots an image; its MAC is normalised and unique across clients and guests (the owner of a
 * duplicate is named). Generated files (pxelinux.cfg/01-MAC, iPXE, DHCP) come from `xenroot sync`.
 */
import { InventoryError, UsageError } from '../errors.js';
import { assertMacFree, normaliseMac } from './mac.js';
import type { Client, InventoryData } from './schema.js';
import { loadInventory, updateInventory, type Inventory } from './store.js';
import { assertName } from './guests.js';
import { checkAbsPath, checkHost, checkKernelArgs } from './validate.js';
import { requireEntry } from './lookup.js';

export interface AddClientOptions {
  mac: string;
  /** Default: the MAC with dashes (00-16-3e-aa-bb-cc). */
  name?: string;
  /** Default: the only image, when there is exactly one. */
  image?: string;
  append?: string;
  /** SERVER:/PATH overriding the image's NFS root. */
  root?: string;
}

export interface SetClientOptions {
  mac?: string;
  image?: string;
  /** "" removes the client's append. */
  append?: string;
  /** "" removes the root override. */
  root?: string;
}

export interface ClientResult {
  name: string;
  client: Client;
}

/** The name a client gets from its MAC when none is given. */
export function defaultClientName(mac: string): string {
  return mac.replace(/:/g, '-');
}

function checkRoot(value: string): void {
  const m = /^([^:]+):(\/.*)$/.exec(value);
  const problem = !m ? 'must be SERVER:/PATH' : checkHost(m[1] as string) ?? checkAbsPath(m[2] as string);
  if (problem) throw new UsageError(`--root "${value}" is not valid: ${problem} (form SERVER:/PATH, e.g. 10.0.0.1:/srv/xenroot/terminal)`);
}

function checkAppend(value: string): void {
  const problem = checkKernelArgs(value);
  if (problem) throw new UsageError(`--append "${value}" is not valid: it ${problem}`);
}

function pickImage(data: InventoryData, image: string | undefined): string {
  const names = Object.keys(data.images);
  if (image === undefined) {
    if (names.length === 1) return names[0] as string;
    throw new UsageError(names.length === 0 ? 'there is no image in the inventory to boot' : `--image is required: the inventory has ${names.length} images (${names.join(', ')})`, {
      hint: names.length === 0 ? 'add one with `xenroot image add NAME --root DIR`' : 'pick one with --image NAME',
    });
  }
  if (!data.images[image])
    throw new InventoryError(`image "${image}" is not in the inventory`, { hint: `known images: ${names.join(', ') || 'none; add one with `xenroot image add`'}` });
  return image;
}

function requireClient(inv: Inventory, name: string): Client {
  return requireEntry(inv.data, 'client', name);
}

export async function addClient(inventoryFile: string, opts: AddClientOptions): Promise<ClientResult> {
  const mac = normaliseMac(opts.mac, 'MAC');
  const name = opts.name ?? defaultClientName(mac);
  assertName('client', name);
  if (opts.append !== undefined) checkAppend(opts.append);
  if (opts.root !== undefined) checkRoot(opts.root);
  return updateInventory(inventoryFile, (inv) => {
    const data = inv.data;
    if (data.clients[name]) throw new InventoryError(`client "${name}" exists already`, { hint: '`xenroot client show NAME` prints it; `xenroot client set NAME ...` changes it' });
    assertMacFree(data, mac);
    const entry: Record<string, unknown> = { mac, image: pickImage(data, opts.image) };
    if (opts.append) entry.append = opts.append;
    if (opts.root) entry.root = opts.root;
    inv.set(['clients', name], entry);
    inv.revalidate();
    return { name, client: inv.data.clients[name] as Client };
  });
}

export async function setClient(inventoryFile: string, name: string, opts: SetClientOptions): Promise<ClientResult & { changed: boolean }> {
  if (opts.append) checkAppend(opts.append);
  if (opts.root) checkRoot(opts.root);
  const mac = opts.mac === undefined ? undefined : normaliseMac(opts.mac, '--mac');
  return updateInventory(inventoryFile, (inv) => {
    const before = JSON.stringify(requireClient(inv, name));
    if (mac !== undefined) {
      assertMacFree(inv.data, mac, `client ${name}`);
      inv.set(['clients', name, 'mac'], mac);
    }
    if (opts.image !== undefined) inv.set(['clients', name, 'image'], pickImage(inv.data, opts.image));
    if (opts.append !== undefined) inv.set(['clients', name, 'append'], opts.append === '' ? undefined : opts.append);
    if (opts.root !== undefined) inv.set(['clients', name, 'root'], opts.root === '' ? undefined : opts.root);
    inv.revalidate();
    const client = inv.data.clients[name] as Client;
    return { name, client, changed: JSON.stringify(client) !== before };
  });
}

export async function removeClient(inventoryFile: string, name: string): Promise<ClientResult> {
  return updateInventory(inventoryFile, (inv) => {
    const client = requireClient(inv, name);
    inv.delete(['clients', name]);
    return { name, client };
  });
}

export async function getClient(inventoryFile: string, name: string): Promise<ClientResult> {
  const inv = await loadInventory(inventoryFile);
  return { name, client: requireClient(inv, name) };
}

export async function listClients(inventoryFile: string): Promise<Record<string, Client>> {
  return (await loadInventory(inventoryFile)).data.clients;
}
