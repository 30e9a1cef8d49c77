/**
 * Edits of the hosts section of an open inventory (inside `updateInventory`): add, remove, and
 * placing a guest on a host. Data only: reaching a host is the hypervisor layer's job.
 */
import { InventoryError } from '../sys/errors.js';
import { FIELDS, checkEntryName, flagValue, type Host } from './schema.js';
import type { Inventory } from './store.js';
import { findEntry, requireEntry } from './lookup.js';

export interface HostEntryOptions {
  name: string;
  /** The host's libvirt URI (or xl:// for the local xl toolstack). */
  connect: string;
  /** Directory of xenroot's boot-file pool on that host (default /var/lib/xenroot/boot). */
  bootDir?: string;
  /** At most this many guests are placed there by xenroot; a string from a flag is checked by the schema's rule. */
  maxGuests?: number | string;
}

/** Adds a host; InventoryError for a duplicate name, a URI another host has, or a bad value. */
export function addHostEntry(inv: Inventory, opts: HostEntryOptions): Host {
  const name = checkEntryName('host', opts.name);
  if (findEntry(inv.data, 'host', name)) throw new InventoryError(`host "${name}" exists already`, { hint: '`xenroot host show NAME` prints it' });
  const f = FIELDS.hosts;
  const entry: Record<string, unknown> = { connect: flagValue(f.connect, '--connect', opts.connect) };
  const same = Object.entries(inv.data.hosts).find(([, h]) => h.connect === entry.connect);
  if (same) throw new InventoryError(`host "${same[0]}" already has the URI ${String(entry.connect)}`, { hint: 'one host entry per hypervisor: place guests on it with `xenroot create --host`' });
  if (opts.bootDir !== undefined) entry.bootDir = flagValue(f.bootDir, '--boot-dir', opts.bootDir);
  if (opts.maxGuests !== undefined) entry.maxGuests = flagValue(f.maxGuests, '--max-guests', opts.maxGuests);
  inv.set(['hosts', name], entry);
  inv.revalidate();
  return inv.data.hosts[name] as Host;
}

/** The guests placed on a host, by name. */
export function guestsOnHost(inv: Inventory, host: string): string[] {
  return Object.entries(inv.data.guests)
    .filter(([, g]) => g.host === host)
    .map(([n]) => n)
    .sort();
}

/** Removes a host; refuses while guests are placed on it. */
export function removeHostEntry(inv: Inventory, name: string): Host {
  const host = requireEntry(inv.data, 'host', name);
  const users = guestsOnHost(inv, name);
  if (users.length)
    throw new InventoryError(`host "${name}" still has guests: ${users.slice(0, 5).join(', ')}${users.length > 5 ? ` and ${users.length - 5} more` : ''}`, {
      hint: 'remove those guests or place them elsewhere first (edit their `host:`)',
    });
  inv.delete(['hosts', name]);
  return host;
}

/**
 * Places a guest on a host (records `host:`), unless it has one already: then keeps that one and
 * returns it, so two concurrent first starts agree. Returns the guest's host after the call.
 */
export function placeGuestEntry(inv: Inventory, guest: string, host: string): string {
  const g = requireEntry(inv.data, 'guest', guest);
  if (g.host !== undefined) return g.host;
  requireEntry(inv.data, 'host', host);
  inv.set(['guests', guest, 'host'], host);
  inv.revalidate();
  return host;
}
