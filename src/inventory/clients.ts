/**
 * Edits of the clients section of an open inventory (inside `updateInventory`): physical PXE
 * clients, each a MAC that boots an image. The MAC is normalised and unique across clients and
 * guests (the owner of a duplicate is named). Their files (pxelinux.cfg/01-MAC, iPXE, DHCP) come
 * from `xenroot sync`.
 */
import { InventoryError } from '../sys/errors.js';
import { assertMacFree, normaliseMac } from './mac.js';
import { FIELDS, checkEntryName, flagValue, type Client, type Group, type InventoryData } from './schema.js';
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
  /** The group whose defaults it takes. */
  group?: string;
}

export interface ClientChanges extends IdentityFlags {
  mac?: string;
  image?: string;
  /** "" removes the client's append. */
  append?: string;
  /** "" removes the root override. */
  root?: string;
  /** "" takes the client out of its group. */
  group?: string;
}

/** The name a client gets from its MAC when none is given. */
export function defaultClientName(mac: string): string {
  return mac.replace(/:/g, '-');
}

/**
 * The image to store on a client: the one given, else none when its group has one, else the only
 * image of the inventory.
 */
export function pickImage(data: InventoryData, image: string | undefined, group?: string): string | undefined {
  const names = Object.keys(data.images);
  if (image === undefined && group !== undefined && requireGroup(data, group).image !== undefined) return undefined;
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

/** The group named by a flag, or an InventoryError naming the known groups. */
export function requireGroup(data: InventoryData, group: string): Group {
  const groups = data.groups ?? {};
  if (!Object.hasOwn(groups, group))
    throw new InventoryError(`group "${group}" is not in the inventory`, { hint: `known groups: ${Object.keys(groups).join(', ') || 'none; add one with `xenroot group add NAME`'}` });
  return groups[group] as Group;
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
  if (opts.group !== undefined) requireGroup(data, flagValue(f.group, '--group', opts.group) as string);
  const image = pickImage(data, opts.image, opts.group);
  if (image !== undefined) entry.image = image;
  if (append) entry.append = append;
  if (root) entry.root = root;
  if (opts.group !== undefined) entry.group = opts.group;
  inv.set(['clients', name], entry);
  setIdentityFields(inv, ['clients', name], opts);
  inv.revalidate();
  return { name, client: inv.data.clients[name] as Client };
}

/**
 * Changes several clients alike, validated once at the end (a range of thousands of clients is
 * one pass over the file, not one per client); returns each client and whether it changed.
 */
export function setClientEntries(inv: Inventory, names: string[], opts: ClientChanges): { client: Client; changed: boolean }[] {
  const before = names.map((name) => JSON.stringify(requireEntry(inv.data, 'client', name)));
  for (const name of names) stageClientChanges(inv, name, opts);
  inv.revalidate();
  return names.map((name, i) => {
    const client = inv.data.clients[name] as Client;
    return { client, changed: JSON.stringify(client) !== before[i] };
  });
}

function stageClientChanges(inv: Inventory, name: string, opts: ClientChanges): void {
  const f = FIELDS.clients;
  if (opts.mac !== undefined) {
    const mac = normaliseMac(opts.mac, '--mac');
    assertMacFree(inv.data, mac, `client ${name}`);
    inv.set(['clients', name, 'mac'], mac);
  }
  if (opts.group !== undefined) inv.set(['clients', name, 'group'], opts.group === '' ? undefined : (requireGroup(inv.data, flagValue(f.group, '--group', opts.group) as string), opts.group));
  if (opts.image !== undefined) inv.set(['clients', name, 'image'], opts.image === '' ? undefined : pickImage(inv.data, opts.image));
  if (opts.append !== undefined) inv.set(['clients', name, 'append'], opts.append === '' ? undefined : flagValue(f.append, '--append', opts.append));
  if (opts.root !== undefined) inv.set(['clients', name, 'root'], opts.root === '' ? undefined : flagValue(f.root, '--root', opts.root));
  setIdentityFields(inv, ['clients', name], opts);
}

/** Removes a client entry and returns what it was. */
export function removeClientEntry(inv: Inventory, name: string): Client {
  const client = requireEntry(inv.data, 'client', name);
  inv.delete(['clients', name]);
  return client;
}
