/** Guests in the inventory: create, remove, and the MAC of a guest. */
import { InventoryError, UsageError } from '../errors.js';
import { writeGuestFiles, removeGuestFiles, type GuestFilesResult } from '../deploy/guest-files.js';
import { allocateMac, assertMacFree, normaliseMac } from './mac.js';
import type { Guest } from './schema.js';
import { updateInventory, loadInventory } from './store.js';
import { NAME_RULE, checkName } from './validate.js';
import { requireEntry } from './lookup.js';

export interface CreateGuestOptions {
  name: string;
  image: string;
  memory?: number;
  vcpus?: number;
  bridge?: string;
  /** A MAC to pin, or "auto" to allocate one now; absent: pinned at first start. */
  mac?: string;
  connect?: string;
  append?: string;
  /** Directory for NAME.cfg and NAME.xml (default: guests/ beside the inventory). */
  out?: string;
}

export interface CreateGuestResult {
  name: string;
  guest: Guest;
  files: GuestFilesResult;
}

export function assertName(kind: string, name: string): void {
  if (checkName(name)) throw new UsageError(`${kind} name "${name}" is not valid: must be ${NAME_RULE}`);
}

export async function createGuest(inventoryFile: string, opts: CreateGuestOptions): Promise<CreateGuestResult> {
  assertName('guest', opts.name);
  return updateInventory(inventoryFile, async (inv) => {
    const data = inv.data;
    if (data.guests[opts.name]) throw new InventoryError(`guest "${opts.name}" exists already`, { hint: '`xenroot show NAME` prints it; `xenroot remove NAME` removes it' });
    if (!data.images[opts.image])
      throw new InventoryError(`image "${opts.image}" is not in the inventory`, {
        hint: `known images: ${Object.keys(data.images).join(', ') || 'none; add one with `xenroot image add`'}`,
      });
    const entry: Record<string, unknown> = { image: opts.image };
    if (opts.memory !== undefined) entry.memory = opts.memory;
    if (opts.vcpus !== undefined) entry.vcpus = opts.vcpus;
    if (opts.bridge !== undefined) entry.bridge = opts.bridge;
    if (opts.connect !== undefined) entry.connect = opts.connect;
    if (opts.append !== undefined) entry.append = opts.append;
    if (opts.mac === 'auto') {
      entry.mac = allocateMac(data, data.site.macPrefix);
      entry.macSource = 'allocated';
    } else if (opts.mac !== undefined) {
      const mac = normaliseMac(opts.mac, '--mac');
      assertMacFree(data, mac);
      entry.mac = mac;
      entry.macSource = 'given';
    }
    inv.set(['guests', opts.name], entry);
    inv.revalidate();
    const files = await writeGuestFiles(inv, opts.name, opts.out);
    return { name: opts.name, guest: inv.data.guests[opts.name] as Guest, files };
  });
}

export async function removeGuest(inventoryFile: string, name: string): Promise<{ name: string; removedFiles: string[] }> {
  return updateInventory(inventoryFile, async (inv) => {
    requireEntry(inv.data, 'guest', name);
    inv.delete(['guests', name]);
    const removedFiles = await removeGuestFiles(inv.guestDir, name);
    return { name, removedFiles };
  });
}

export async function getGuest(inventoryFile: string, name: string): Promise<Guest> {
  const inv = await loadInventory(inventoryFile);
  return requireEntry(inv.data, 'guest', name);
}

/**
 * Pins a MAC on a guest (or removes it with mac undefined) and regenerates its files.
 * `onlyIfUnpinned`: the first-boot path; if another process pinned meanwhile, its MAC is kept
 * and returned, so two concurrent first starts agree on one MAC.
 */
export async function setGuestMac(
  inventoryFile: string,
  name: string,
  mac: string | undefined,
  source: Guest['macSource'],
  opts: { onlyIfUnpinned?: boolean } = {},
): Promise<{ mac: string | undefined; changed: boolean }> {
  return updateInventory(inventoryFile, async (inv) => {
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
    await writeGuestFiles(inv, name);
    return { mac: inv.data.guests[name]?.mac, changed: true };
  });
}
