/**
 * MAC addresses in the inventory: who owns which, and allocation of new ones. Allocation runs
 * inside the inventory lock (see guests.ts), so concurrent creates never pick the same MAC.
 */
import { randomInt } from 'node:crypto';
import { InventoryError } from '../sys/errors.js';
import { MAC_RULE, parseMac } from './validate.js';

export interface MacClaim {
  mac: string;
  /** "guest Terminal", "client pc-01" */
  owner: string;
  /** Where the MAC is in the inventory: ['guests', 'Terminal', 'mac']. */
  path: string[];
}

/**
 * Every MAC the inventory holds, with its owner, guests first: the one definition of MAC
 * ownership (the schema's uniqueness rule and the allocator both use it).
 */
/** What holds MACs: the guests and clients sections (of the model, or of raw data being validated). */
export interface MacHolders {
  guests: Record<string, { mac?: string | undefined }>;
  clients: Record<string, { mac: string }>;
}

export function macClaims(inv: MacHolders): MacClaim[] {
  const claims: MacClaim[] = [];
  for (const [name, g] of Object.entries(inv.guests)) if (g.mac) claims.push({ mac: g.mac, owner: `guest ${name}`, path: ['guests', name, 'mac'] });
  for (const [name, c] of Object.entries(inv.clients)) claims.push({ mac: c.mac, owner: `client ${name}`, path: ['clients', name, 'mac'] });
  return claims;
}

/** Every MAC in the inventory with its (first) owner ("guest Terminal", "client pc-01"). */
export function macOwners(inv: MacHolders): Map<string, string> {
  const owners = new Map<string, string>();
  for (const c of macClaims(inv)) if (!owners.has(c.mac)) owners.set(c.mac, c.owner);
  return owners;
}

/** Normalises a user-given MAC or throws an InventoryError naming it (as the file's rule would). */
export function normaliseMac(value: string, what = 'MAC'): string {
  const mac = parseMac(value);
  if (!mac) throw new InventoryError(`${what} "${value}" is not valid: must be ${MAC_RULE}`);
  return mac;
}

/** Throws when the MAC belongs to someone other than `self`. */
export function assertMacFree(inv: MacHolders, mac: string, self?: string): void {
  const owner = macOwners(inv).get(mac);
  if (owner && owner !== self) throw new InventoryError(`MAC ${mac} is already used by ${owner}`, { hint: 'every MAC must be unique across guests and clients' });
}

/**
 * A random unicast MAC under `prefix`, unique in the inventory. Under the Xen OUI 00:16:3e the
 * next byte stays below 0x80, as xl's own generator does.
 */
export function allocateMac(inv: MacHolders, prefix: string, random: (max: number) => number = randomInt): string {
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
