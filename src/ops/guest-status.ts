/** `xenroot status [NAME]`: state and MACs of guests, asked from their hypervisors (one connection per host). */
import { HypervisorError, TimeoutError } from '../sys/errors.js';
import { isActive, type DomainState } from '../hypervisor/types.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Guest } from '../inventory/schema.js';
import { loadInventory } from '../inventory/store.js';
import { guestUri, usingHypervisor, type HostOptions } from './guest-host.js';
import { imageRef } from '../inventory/paths.js';
import { runningImage } from '../inventory/revisions.js';

export interface StatusRow {
  name: string;
  uri: string;
  state: DomainState | 'unreachable';
  id: number | undefined;
  persistent: boolean | undefined;
  /** MAC pinned in the inventory. */
  pinnedMac: string | undefined;
  macSource: Guest['macSource'] | undefined;
  /** MACs of the running domain. */
  liveMacs: string[] | undefined;
  error?: string;
  /** What it boots at its next start: IMAGE or IMAGE@REV (issue 12). */
  nextBoot?: string;
  /** What the running domain booted (from its kernel path), where known. */
  running?: string | undefined;
}

/** State and MACs of one guest or all guests; a host that cannot be reached marks its guests `unreachable`. */
export async function guestStatus(inventoryFile: string, name?: string, opts: HostOptions = {}): Promise<StatusRow[]> {
  const inv = await loadInventory(inventoryFile);
  const names = name === undefined ? Object.keys(inv.data.guests).sort() : [name];
  if (name !== undefined) requireEntry(inv.data, 'guest', name);
  const byUri = new Map<string, string[]>();
  for (const n of names) {
    const uri = guestUri(inv, inv.data.guests[n] as Guest, opts);
    byUri.set(uri, [...(byUri.get(uri) ?? []), n]);
  }
  const rows: StatusRow[] = [];
  for (const [uri, group] of byUri) {
    const base = (n: string): Omit<StatusRow, 'state' | 'id' | 'persistent' | 'liveMacs'> => {
      const g = inv.data.guests[n] as Guest;
      return { name: n, uri, pinnedMac: g.mac, macSource: g.macSource, nextBoot: imageRef(g.image, g.revision) };
    };
    try {
      await usingHypervisor(uri, opts, async (h) => {
        const domains = new Map((await h.list()).map((d) => [d.name, d]));
        await Promise.all(
          group.map(async (n) => {
            const d = domains.get(n);
            const state: DomainState = d ? d.state : 'undefined';
            const liveMacs = d && isActive(d.state) ? (await h.interfaces(n).catch(() => [])).map((i) => i.mac) : undefined;
            const running = d && isActive(d.state) ? runningImage(await h.liveDescription(n).catch(() => ''), (inv.data.guests[n] as Guest).image) : undefined;
            rows.push({ ...base(n), state, id: d?.id, persistent: d?.persistent, liveMacs, running });
          }),
        );
      });
    } catch (err) {
      if (name !== undefined || !(err instanceof HypervisorError || err instanceof TimeoutError)) throw err;
      for (const n of group) rows.push({ ...base(n), state: 'unreachable', id: undefined, persistent: undefined, liveMacs: undefined, error: (err as Error).message });
    }
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

/** A client's revision at its next boot (issue 12); what it runs is not known to xenroot (it reports nothing back). */
export interface ClientStatusRow {
  name: string;
  kind: 'client';
  mac: string;
  nextBoot: string;
  running: undefined;
}

/** The clients with what they boot at their next boot. */
export async function clientStatus(inventoryFile: string): Promise<ClientStatusRow[]> {
  const inv = await loadInventory(inventoryFile);
  return Object.entries(inv.data.clients)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, c]) => ({ name, kind: 'client' as const, mac: c.mac, nextBoot: imageRef(c.image, c.revision), running: undefined }));
}
