/**
 * Edits of the clients section of an open inventory (inside `updateInventory`): physical PXE
 * clients, each a MAC that boots an image. The MAC is normalised and unique across clients and
 * guests (the owner of a duplicate is named). Their files (pxelinux.cfg/01-MAC, iPXE, DHCP) come
 * from `xenroot sync`.
 */
import { InventoryError } from '../sys/errors.js';
import { assertMacFree, normaliseMac } from './mac.js';
import { FIELDS, checkEntryName, flagValue, type Client, type InventoryData } from './schema.js';
import type { Inventory } from './store.js';
import { findEntry, requireEntry } from './lookup.js';
import { setIdentityFields } from './identity-edit.js';
import type { IdentityFlags } from './identity.js';

export interface ClientEntryOptions extends IdentityFlags {
  mac: string;
  /** Default: the MAC with dashes (00-16-3e-aa-bb-cc). */
  name?: string;
  /** Default: the only image, when there is exactly one. */
  image?: string;
  append?: string;
  /** SERVER:/PATH overriding the image's NFS root. */
  root?: string;
}

export interface ClientChanges extends IdentityFlags {
  mac?: string;
  image?: string;
  /** "" removes the client's append. */
  append?: string;
  /** "" removes the root override. */
  root?: string;
}

/** The name a client gets from its MAC when none is given. */
export function defaultClientName(mac: string): string {
  return mac.replace(/:/g, '-');
}

function pickImage(data: InventoryData, image: string | undefined): string {
  const names = Object.keys(data.images);
  if (image === undefined) {
    if (names.length === 1) return names[0] as string;
    throw new InventoryError(names.length === 0 ? 'there is no image in the inventory to boot' : `--image is required: the inventory has ${names.length} images (${names.join(', ')})`, {
      hint: names.length === 0 ? 'add one with `xenroot image add NAME --root DIR`' : 'pick one with --image NAME',
    });
  }
  if (!findEntry(data, 'image', image))
    throw new InventoryError(`image "${image}" is not in the inventory`, { hint: `known images: ${names.join(', ') || 'none; add one with `xenroot image add`'}` });
  return image;
}

/** Adds a client entry; InventoryError for a bad value, a duplicate name or MAC, an unknown image. */
export function addClientEntry(inv: Inventory, opts: ClientEntryOptions): { name: string; client: Client } {
  const mac = normaliseMac(opts.mac, 'MAC');
  const name = checkEntryName('client', opts.name ?? defaultClientName(mac));
  const f = FIELDS.clients;
  const entry: Record<string, unknown> = { mac };
  const append = opts.append === undefined ? undefined : flagValue(f.append, '--append', opts.append);
  const root = opts.root === undefined ? undefined : flagValue(f.root, '--root', opts.root);
  const data = inv.data;
  if (findEntry(data, 'client', name)) throw new InventoryError(`client "${name}" exists already`, { hint: '`xenroot client show NAME` prints it; `xenroot client set NAME ...` changes it' });
  assertMacFree(data, mac);
  entry.image = pickImage(data, opts.image);
  if (append) entry.append = append;
  if (root) entry.root = root;
  inv.set(['clients', name], entry);
  setIdentityFields(inv, ['clients', name], opts);
  inv.revalidate();
  return { name, client: inv.data.clients[name] as Client };
}

/** Changes a client; returns whether anything changed. */
export function setClientEntry(inv: Inventory, name: string, opts: ClientChanges): { client: Client; changed: boolean } {
  const before = JSON.stringify(requireEntry(inv.data, 'client', name));
  const f = FIELDS.clients;
  if (opts.mac !== undefined) {
    const mac = normaliseMac(opts.mac, '--mac');
    assertMacFree(inv.data, mac, `client ${name}`);
    inv.set(['clients', name, 'mac'], mac);
  }
  if (opts.image !== undefined) inv.set(['clients', name, 'image'], pickImage(inv.data, opts.image));
  if (opts.append !== undefined) inv.set(['clients', name, 'append'], opts.append === '' ? undefined : flagValue(f.append, '--append', opts.append));
  if (opts.root !== undefined) inv.set(['clients', name, 'root'], opts.root === '' ? undefined : flagValue(f.root, '--root', opts.root));
  setIdentityFields(inv, ['clients', name], opts);
  inv.revalidate();
  const client = inv.data.clients[name] as Client;
  return { client, changed: JSON.stringify(client) !== before };
}

/** Removes a client entry and returns what it was. */
export function removeClientEntry(inv: Inventory, name: string): Client {
  const client = requireEntry(inv.data, 'client', name);
  inv.delete(['clients', name]);
  return client;
}
