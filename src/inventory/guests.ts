/**
 * Edits of the guests section of an open inventory (inside `updateInventory`): add, remove, pin
 * or unpin a MAC. Data only: the files a guest has are planned and written by the workflows
 * (src/ops), from the model these edits leave.
 */
import { InventoryError } from '../sys/errors.js';
import { allocateMac, assertMacFree, normaliseMac } from './mac.js';
import { FIELDS, checkEntryName, flagValue, type Guest } from './schema.js';
import type { Inventory } from './store.js';
import { findEntry, requireEntry } from './lookup.js';
import { requireGroup } from './clients.js';
import { setIdentityFields } from './identity-edit.js';
import type { IdentityFlags } from './identity.js';

export interface GuestEntryOptions extends IdentityFlags {
  name: string;
  /** Optional when `group` names a group with an image. */
  image?: string;
  /** MiB; a string from a flag is checked by the schema's own field rule. */
  memory?: number | string;
  vcpus?: number | string;
  bridge?: string;
  /** A MAC to pin, or "auto" to allocate one now; absent: pinned at first start. */
  mac?: string;
  connect?: string;
  append?: string;
  /** Directory of NAME.cfg and NAME.xml (absolute); absent: the site's guest directory. */
  configDir?: string;
  /** The inventory host it runs on (`--host`); absent: placed by xenroot at its first start, when hosts exist. */
  host?: string;
  /** The group whose defaults the guest takes. */
  group?: string;
}

/** Adds a guest entry; throws InventoryError for a duplicate name, an unknown image or a bad value. */
export function addGuestEntry(inv: Inventory, opts: GuestEntryOptions): Guest {
  const name = checkEntryName('guest', opts.name);
  const data = inv.data;
  if (findEntry(data, 'guest', name)) throw new InventoryError(`guest "${name}" exists already`, { hint: '`xenroot show NAME` prints it; `xenroot remove NAME` removes it' });
  const group = opts.group === undefined ? undefined : requireGroup(data, opts.group);
  if (opts.image === undefined && group?.image === undefined)
    throw new InventoryError(`guest "${name}" needs an image: give --image${opts.group === undefined ? ' or --group with a group that has one' : `; group "${opts.group}" has none`}`);
  if (opts.image !== undefined && !findEntry(data, 'image', opts.image))
    throw new InventoryError(`image "${opts.image}" is not in the inventory`, {
      hint: `known images: ${Object.keys(data.images).join(', ') || 'none; add one with `xenroot image add`'}`,
    });
  const f = FIELDS.guests;
  const entry: Record<string, unknown> = opts.image !== undefined ? { image: opts.image } : {};
  if (opts.group !== undefined) entry.group = opts.group;
  if (opts.memory !== undefined) entry.memory = flagValue(f.memory, '--memory', opts.memory);
  if (opts.vcpus !== undefined) entry.vcpus = flagValue(f.vcpus, '--vcpus', opts.vcpus);
  if (opts.bridge !== undefined) entry.bridge = flagValue(f.bridge, '--bridge', opts.bridge);
  if (opts.connect !== undefined) entry.connect = flagValue(f.connect, '--connect', opts.connect);
  if (opts.append !== undefined) entry.append = flagValue(f.append, '--append', opts.append);
  if (opts.configDir !== undefined) entry.configDir = flagValue(f.configDir, '--out', opts.configDir);
  if (opts.host !== undefined) {
    entry.host = flagValue(f.host, '--host', opts.host);
    if (!findEntry(data, 'host', opts.host))
      throw new InventoryError(`host "${opts.host}" is not in the inventory`, { hint: `known hosts: ${Object.keys(data.hosts).join(', ') || 'none; add one with `xenroot host add`'}` });
  }
  if (opts.mac === 'auto') {
    entry.mac = allocateMac(data, data.site.macPrefix);
    entry.macSource = 'allocated';
  } else if (opts.mac !== undefined) {
    const mac = normaliseMac(opts.mac, '--mac');
    assertMacFree(data, mac);
    entry.mac = mac;
    entry.macSource = 'given';
  }
  inv.set(['guests', name], entry);
  setIdentityFields(inv, ['guests', name], opts);
  inv.revalidate();
  return inv.data.guests[name] as Guest;
}

/** Changes the identity of a guest (host name, address, gateway, files); returns whether anything changed. */
export function setGuestIdentity(inv: Inventory, name: string, flags: IdentityFlags): { guest: Guest; changed: boolean } {
  const before = JSON.stringify(requireEntry(inv.data, 'guest', name));
  setIdentityFields(inv, ['guests', name], flags);
  inv.revalidate();
  const guest = inv.data.guests[name] as Guest;
  return { guest, changed: JSON.stringify(guest) !== before };
}

/** Removes a guest entry and returns what it was; InventoryError when there is none. */
export function removeGuestEntry(inv: Inventory, name: string): Guest {
  const guest = requireEntry(inv.data, 'guest', name);
  inv.delete(['guests', name]);
  return guest;
}

/**
 * Pins a MAC on a guest (or removes the pin with mac undefined). `onlyIfUnpinned`: the first-boot
 * path; if another process pinned meanwhile, its MAC is kept and returned, so two concurrent
 * first starts agree on one MAC.
 */
export function setGuestMacEntry(
  inv: Inventory,
  name: string,
  mac: string | undefined,
  source: Guest['macSource'],
  opts: { onlyIfUnpinned?: boolean } = {},
): { mac: string | undefined; changed: boolean } {
  const guest = requireEntry(inv.data, 'guest', name);
  if (opts.onlyIfUnpinned && guest.mac) return { mac: guest.mac, changed: false };
  if (mac === undefined) {
    if (!guest.mac) return { mac: undefined, changed: false };
    inv.delete(['guests', name, 'mac']);
    inv.delete(['guests', name, 'macSource']);
  } else {
    const normal = normaliseMac(mac);
    if (guest.mac === normal) return { mac: normal, changed: false };
    assertMacFree(inv.data, normal, `guest ${name}`);
    inv.set(['guests', name, 'mac'], normal);
    inv.set(['guests', name, 'macSource'], source);
  }
  inv.revalidate();
  return { mac: inv.data.guests[name]?.mac, changed: true };
}
