/**
 * Placing guests that name no host on the inventory's hosts: asks each libvirt host
 * for its CPUs and free memory (one `virsh nodeinfo; freecell` each, in parallel, bounded by a
 * short timeout so that a dead host only drops out), applies the rule of
 * src/hypervisor/placement.ts, and records `host:` in the inventory under the lock (a guest that
 * got a host meanwhile keeps it).
 */
import { hypervisorFor } from '../../hypervisor/connect.js';
import { isSshUri } from '../../hypervisor/ssh.js';
import { placeGuests, type HostCandidate, type Placement } from '../../hypervisor/placement.js';
import { placeGuestEntry } from '../../inventory/hosts.js';
import type { Inventory } from './store.js';
import { loadInventory, updateInventory } from './store.js';
import { log } from '../../sys/log.js';
import type { HostOptions } from './guest-host.js';

/** Whether a guest is placed by xenroot: it names no host and no URI, no URI is forced, and the inventory has hosts. */
export function needsPlacement(inv: Inventory, name: string, opts: HostOptions, env: NodeJS.ProcessEnv = process.env): boolean {
  const g = inv.data.guests[name];
  if (!g || g.host !== undefined || g.connect !== undefined) return false;
  if (opts.connect || opts.hypervisor || env['XENROOT_CONNECT']) return false;
  return Object.keys(inv.data.hosts).length > 0;
}

/** Facts of every inventory host, asked in parallel; a host that does not answer within `timeoutMs` (ssh: 20 s) is marked unreachable. */
export async function hostCandidates(inv: Inventory, timeoutMs = 8_000): Promise<HostCandidate[]> {
  return Promise.all(
    Object.entries(inv.data.hosts).map(async ([name, host]): Promise<HostCandidate> => {
      const guests = Object.values(inv.data.guests).filter((g) => g.host === name).length;
      const base = { name, guests, maxGuests: host.maxGuests };
      const h = hypervisorFor(host.connect, { libvirt: { callTimeoutMs: isSshUri(host.connect) ? Math.max(timeoutMs, 20_000) : timeoutMs } });
      if (!h.nodeFacts) return { ...base, freeKiB: undefined, cpus: undefined, unreachable: 'not a libvirt host (place guests there with --host)' };
      try {
        const f = await h.nodeFacts();
        return { ...base, freeKiB: f.freeKiB, cpus: f.cpus };
      } catch (err) {
        log().warn({ host: name, err: (err as Error).message }, 'host did not answer: not a candidate for placement');
        return { ...base, freeKiB: undefined, cpus: undefined, unreachable: (err as Error).message };
      }
    }),
  );
}

/**
 * Places the guests among `names` that need it; returns every placement made or refused (refused:
 * host undefined, reason). `loaded`: the inventory the caller read already (not read again before
 * the locked edit).
 */
export async function placeGuestsOnHosts(inventoryFile: string, names: string[], opts: HostOptions = {}, loaded?: Inventory): Promise<Placement[]> {
  const inv = loaded ?? (await loadInventory(inventoryFile));
  const todo = names.filter((n) => needsPlacement(inv, n, opts));
  if (todo.length === 0) return [];
  const candidates = await hostCandidates(inv);
  const plan = placeGuests(
    todo.map((n) => ({ guest: n, memoryMiB: inv.data.guests[n]!.memory, vcpus: inv.data.guests[n]!.vcpus })),
    candidates,
  );
  const chosen = plan.filter((p) => p.host !== undefined);
  if (chosen.length === 0) return plan;
  const kept = await updateInventory(inventoryFile, (edit) => new Map(chosen.map((p) => [p.guest, placeGuestEntry(edit, p.guest, p.host as string)])));
  return plan.map((p) => (p.host !== undefined ? { ...p, host: kept.get(p.guest) } : p));
}
