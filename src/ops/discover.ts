/**
 * `xenroot client discover [--group G] [--assign] [--leases FILE] [--log FILE] [--since T]`:
 * machines that network-booted but are not in the inventory, found in the DHCP server's lease
 * file (dnsmasq, ISC or Kea's memfile, by content) and, where given, its log (DHCP and TFTP lines: whether a
 * machine fetched the default pxelinux entry or iPXE script). `--assign` enrols them in group G
 * under the next free names of its pattern (`names: lab-{nn}`), in one locked atomic write;
 * their own per-MAC boot files come with the next `xenroot sync`.
 */
import { readFile } from 'node:fs/promises';
import { leaseFormat, mergeSightings, parseDnsmasqLeases, parseIscLeases, parseKeaLeases, parseServerLog, type Sighting } from '../deploy/leases.js';
import { requireGroup } from '../inventory/clients.js';
import { nextFreeNames } from '../inventory/names.js';
import type { InventoryData } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';
import { InventoryError, UsageError } from '../sys/errors.js';

/** Where each DHCP server keeps its leases on Debian when no --leases is given. */
export const DEFAULT_LEASES: Record<'dnsmasq' | 'isc' | 'kea', string> = {
  dnsmasq: '/var/lib/misc/dnsmasq.leases',
  isc: '/var/lib/dhcp/dhcpd.leases',
  kea: '/var/lib/kea/kea-leases4.csv',
};

export interface DiscoverOptions {
  /** Lease files (default: the site's DHCP server's usual one). */
  leases?: string[];
  /** DHCP/TFTP log files (dnsmasq log-facility with log-dhcp, syslog). */
  logs?: string[];
  /** Only machines seen at or after this time (ms since the epoch). */
  since?: number;
  /** Group for --assign (needs a name pattern). */
  group?: string;
  /** Enrol what was found. */
  assign?: boolean;
  /** Now, for relative --since and yearless log stamps (tests). */
  now?: number;
}

export interface Discovered extends Sighting {
  /** --assign: the name it was enrolled under. */
  assigned?: string;
}

export interface DiscoverResult {
  sources: string[];
  /** Unknown machines, earliest seen first. */
  found: Discovered[];
  /** Machines seen that the inventory knows (not listed in found). */
  known: number;
  group?: string;
  assigned: { name: string; mac: string }[];
}

/**
 * Reads `--since` values: an ISO date or time (2026-11-29, 2026-11-29T08:00), or an age such as
 * 30m, 2h, 1d, 1w. Throws a UsageError naming what is accepted.
 */
export function parseSince(value: string, now = Date.now()): number {
  const age = /^(\d+)\s*([smhdw])$/.exec(value.trim());
  if (age) return now - Number(age[1]) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[age[2] as 's']!;
  const t = Date.parse(value);
  if (!Number.isNaN(t) && /^\d{4}-\d\d-\d\d/.test(value)) return t;
  throw new UsageError(`--since "${value}" is not valid: give an age such as 30m, 2h, 1d, 1w or a date such as 2026-11-29 or 2026-11-29T08:00`);
}

async function readSource(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read the ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      hint: what === 'lease file' ? 'give the DHCP server\'s lease file with --leases FILE (dnsmasq: dhcp-leasefile, ISC: dhcpd.leases, Kea: kea-leases4.csv)' : undefined,
    });
  }
}

function knownMacs(data: InventoryData): Set<string> {
  const macs = new Set<string>();
  for (const c of Object.values(data.clients)) macs.add(c.mac);
  for (const g of Object.values(data.guests)) if (g.mac) macs.add(g.mac);
  return macs;
}

function checkGroup(data: InventoryData, group: string): string {
  const g = requireGroup(data, group);
  if (!g.names) throw new InventoryError(`group "${group}" has no name pattern for new members`, { hint: `give it one: xenroot group set ${group} --names '${group}-{nn}'` });
  if (!g.image && Object.keys(data.images).length !== 1) throw new InventoryError(`group "${group}" has no image, and the inventory has ${Object.keys(data.images).length}: new members would boot nothing`, { hint: `xenroot group set ${group} --image IMAGE` });
  return g.names;
}

export async function discoverClients(inventoryFile: string, opts: DiscoverOptions = {}): Promise<DiscoverResult> {
  if (opts.assign && !opts.group) throw new UsageError('--assign needs --group G: the group whose name pattern names the new clients');
  const now = opts.now ?? Date.now();
  const first = await loadInventory(inventoryFile);
  if (opts.group) checkGroup(first.data, opts.group);
  const server = first.data.site.dhcp.server;
  const leaseFiles = opts.leases ?? (server === 'none' ? [] : [DEFAULT_LEASES[server]]);
  if (leaseFiles.length === 0 && !opts.logs?.length) throw new UsageError('no lease file to read: the site has no DHCP server (site.dhcp.server: none)', { hint: 'give --leases FILE or --log FILE' });
  const leases: Sighting[] = [];
  for (const f of leaseFiles) {
    const text = await readSource(f, 'lease file');
    const format = leaseFormat(text);
    leases.push(...(format === 'isc' ? parseIscLeases(text) : format === 'kea' ? parseKeaLeases(text) : parseDnsmasqLeases(text)));
  }
  const fromLogs: Sighting[] = [];
  for (const f of opts.logs ?? []) fromLogs.push(...parseServerLog(await readSource(f, 'log file'), leases, now));
  let all = mergeSightings(leases, fromLogs);
  if (opts.since !== undefined) {
    const since = opts.since;
    all = all.filter((s) => (s.lastSeen ?? s.leaseExpires ?? Infinity) >= since);
  }
  const order = (s: Sighting) => s.firstSeen ?? s.lastSeen ?? s.leaseExpires ?? 0;
  all.sort((a, b) => order(a) - order(b) || a.mac.localeCompare(b.mac));

  const select = (data: InventoryData) => {
    const known = knownMacs(data);
    return { found: all.filter((s) => !known.has(s.mac)) as Discovered[], known: all.filter((s) => known.has(s.mac)).length };
  };
  const base = { sources: [...leaseFiles, ...(opts.logs ?? [])], ...(opts.group ? { group: opts.group } : {}) };
  if (!opts.assign) return { ...base, ...select(first.data), assigned: [] };

  const group = opts.group as string;
  return updateInventory(inventoryFile, (inv) => {
    const pattern = checkGroup(inv.data, group);
    const { found, known } = select(inv.data);
    const taken = (n: string) => Object.hasOwn(inv.data.clients, n) || Object.hasOwn(inv.data.guests, n);
    const names = nextFreeNames(pattern, taken, found.length);
    const only = Object.keys(inv.data.images);
    const image = inv.data.groups[group]?.image ? undefined : only[0];
    const assigned = found.map((s, i) => {
      const name = names[i] as string;
      inv.set(['clients', name], { mac: s.mac, group, ...(image ? { image } : {}) });
      s.assigned = name;
      return { name, mac: s.mac };
    });
    return { ...base, found, known, assigned };
  });
}
