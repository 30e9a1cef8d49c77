/** `xenroot status [NAME]`: state and MACs of guests, asked from their hypervisors (one connection per host). */
import { HypervisorError, TimeoutError } from '../sys/errors.js';
import { isActive, type DomainState } from '../hypervisor/types.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Guest } from '../inventory/schema.js';
import { loadInventory } from './steps/store.js';
import { guestUri, hostOf, usingHypervisor, type HostOptions } from './steps/guest-host.js';
import { imageRef, stateDir } from '../inventory/paths.js';
import { nodeImage, runningImage } from '../inventory/revisions.js';
import { effectiveGuest } from '../inventory/effective.js';
import { checkinDir, clientBootState, readNodeCheckins, readRefusals, type ClientBootState, type RefusalRecord } from './steps/checkins.js';

export interface StatusRow {
  name: string;
  uri: string;
  /** The inventory host, if the guest is on one. */
  host: string | undefined;
  state: DomainState | 'unreachable';
  id: number | undefined;
  persistent: boolean | undefined;
  /** MAC pinned in the inventory. */
  pinnedMac: string | undefined;
  macSource: Guest['macSource'] | undefined;
  /** MACs of the running domain. */
  liveMacs: string[] | undefined;
  error?: string;
  /** What it boots at its next start: IMAGE or IMAGE@REV. */
  nextBoot?: string;
  /** What the running domain booted (from its kernel path), where known. */
  running?: string | undefined;
}

/**
 * State and MACs of one guest or all guests (or the guests `names`); a host that cannot be reached
 * marks its guests `unreachable`. Hosts are asked in parallel, one connection each.
 */
export async function guestStatus(inventoryFile: string, name?: string | string[], opts: HostOptions = {}): Promise<StatusRow[]> {
  const inv = await loadInventory(inventoryFile);
  const names = name === undefined ? Object.keys(inv.data.guests).sort() : typeof name === 'string' ? [name] : name;
  for (const n of names) requireEntry(inv.data, 'guest', n);
  const single = typeof name === 'string';
  const byUri = new Map<string, string[]>();
  for (const n of names) {
    const uri = guestUri(inv, inv.data.guests[n] as Guest, opts);
    byUri.set(uri, [...(byUri.get(uri) ?? []), n]);
  }
  const rows: StatusRow[] = [];
  await Promise.all([...byUri].map(async ([uri, group]) => {
    const base = (n: string): Omit<StatusRow, 'state' | 'id' | 'persistent' | 'liveMacs'> => {
      const g = inv.data.guests[n] as Guest;
      return { name: n, uri, host: hostOf(inv, g, uri)?.name, pinnedMac: g.mac, macSource: g.macSource, nextBoot: imageRef(effectiveGuest(inv.data, n, g).image, g.revision) };
    };
    try {
      await usingHypervisor(uri, opts, async (h) => {
        const domains = new Map((await h.list()).map((d) => [d.name, d]));
        await Promise.all(
          group.map(async (n) => {
            const d = domains.get(n);
            const state: DomainState = d ? d.state : 'undefined';
            const liveMacs = d && isActive(d.state) ? (await h.interfaces(n).catch(() => [])).map((i) => i.mac) : undefined;
            const running = d && isActive(d.state) ? runningImage(await h.liveDescription(n).catch(() => ''), nodeImage(inv.data, 'guest', n, inv.data.guests[n] as Guest)) : undefined;
            rows.push({ ...base(n), state, id: d?.id, persistent: d?.persistent, liveMacs, running });
          }),
        );
      });
    } catch (err) {
      if (single || !(err instanceof HypervisorError || err instanceof TimeoutError)) throw err;
      for (const n of group) rows.push({ ...base(n), state: 'unreachable', id: undefined, persistent: undefined, liveMacs: undefined, error: (err as Error).message });
    }
  }));
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A client: what it boots at its next boot (IMAGE@REV), and what it reported to the boot service
 * (`xenroot serve`) at its last check-in: when, which revision it booted (`running`; null when it
 * never checked in), drift against its assignment, health, and the service's refusals of
 * requests about it (newest first).
 */
export interface ClientStatusRow extends ClientBootState {
  name: string;
  kind: 'client';
  mac: string;
  nextBoot: string;
  running: string | null;
  refusals: RefusalRecord[];
}

/** How many of a client's refusals its row carries. */
const ROW_REFUSALS = 5;

/**
 * The clients with what they boot next and what they last reported (check-ins in `checkins`,
 * default STATE/checkins), and the service's refusals (newest first) that name no client.
 */
export async function clientStatus(inventoryFile: string, checkinsDir?: string): Promise<{ clients: ClientStatusRow[]; refusals: RefusalRecord[] }> {
  const inv = await loadInventory(inventoryFile);
  const checkins = checkinsDir ?? checkinDir(stateDir(inventoryFile, inv.data.site));
  const refusals = readRefusals(checkins);
  const clients = Object.entries(inv.data.clients)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => {
      const boot = clientBootState(inv.data, name, readNodeCheckins(checkins, name));
      return {
        name,
        kind: 'client' as const,
        mac: c.mac,
        nextBoot: imageRef(nodeImage(inv.data, 'client', name, c), c.revision),
        running: boot.booted,
        ...boot,
        refusals: refusals.filter((r) => r.node === name).slice(0, ROW_REFUSALS),
      };
    });
  return { clients, refusals: refusals.filter((r) => r.node === undefined || !Object.hasOwn(inv.data.clients, r.node)) };
}
