/**
 * MAC addresses in the inventory: who owns which, and allocation of new ones. Allocation runs
 * inside the inventory lock (see guests.ts), so concurrent creates never pick the same MAC.
 */
import { randomInt } from 'node:crypto';
import { InventoryError, UsageError } from '../errors.js';
import type { InventoryData } from './schema.js';
import { MAC_RULE, parseMac } from './validate.js';

/** Every MAC in the inventory with its owner ("guest Terminal", "client pc-01"). */
export function macOwners(inv: InventoryData): Map<string, string> {
  const owners = new Map<string, string>();
  for (const [name, g] of Object.entries(inv.guests)) if (g.mac) owners.set(g.mac, `guest ${name}`);
  for (const [name, c] of Object.entries(inv.clients)) owners.set(c.mac, `client ${name}`);
  return owners;
}

/** Normalises a user-given MAC or throws a UsageError naming it. */
export function normaliseMac(value: string, what = 'MAC'): string {
  const mac = parseMac(value);
  if (!mac) throw new UsageError(`${what} "${value}" is not valid: must be ${MAC_RULE}`);
  return mac;
}

/** Throws when the MAC belongs to someone other than `self`. */
export function assertMacFree(inv: InventoryData, mac: string, self?: string): void {
  const owner = macOwners(inv).get(mac);
  if (owner && owner !== self) throw new InventoryError(`MAC ${mac} is already used by ${owner}`, { hint: 'every MAC must be unique across guests and clients' });
}

/**
 * A random unicast MAC under `prefix`, unique in the inventory. Under the Xen OUI 00:16:3e the
 * next byte stays below 0x80, as xl's own generator does.
 */
export function allocateMac(inv: InventoryData, prefix: string, random: (max: number) => number = randomInt): string {
  const head = prefix.toLowerCase().split(':');
  const taken = macOwners(inv);
  const free = 2 ** (8 * (6 - head.length)) / (head.join(':') === '00:16:3e' ? 2 : 1);
  if (taken.size >= free) throw new InventoryError(`no free MAC left under prefix ${prefix}`, { hint: 'configure a wider site.macPrefix' });
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const bytes = [...head];
    while (bytes.length < 6) {
      const limit = bytes.length === 3 && head.join(':') === '00:16:3e' ? 0x80 : 0x100;
      bytes.push(random(limit).toString(16).padStart(2, '0'));
    }
    const mac = bytes.join(':');
    if (parseMac(mac) === mac && !taken.has(mac)) return mac;
  }
  throw new InventoryError(`could not find a free MAC under prefix ${prefix}`, { hint: 'configure a wider site.macPrefix' });
}
