/**
 * Where xenroot puts a guest that names no host. Pure: the facts come from each
 * host's libvirt (nodeinfo: CPUs; freecell: free memory, which on Xen is the hypervisor's free
 * pool, `xl info free_memory`, and right for placement when dom0 has a fixed dom0_mem) and from the
 * inventory (how many guests are placed there already, max-guests).
 *
 * The rule, in order:
 *  1. a host qualifies when it answered, has at least the guest's vCPUs, has free memory for the
 *     guest's memory plus 64 MiB (libxl's per-domain overhead, rounded up), and is below its
 *     maxGuests (when set);
 *  2. among those, the fewest guests placed there (inventory count, including the guests
 *     placed earlier in the same run) wins: guests spread over hosts;
 *  3. then the most free memory (less what this run placed there already);
 *  4. then the host name, so the same facts always give the same answer.
 */
export const OVERHEAD_MIB = 64;

export interface HostCandidate {
  name: string;
  /** Undefined: the host did not answer (not a candidate); the reason says why. */
  freeKiB: number | undefined;
  cpus: number | undefined;
  guests: number;
  maxGuests: number | undefined;
  unreachable?: string;
}

export interface PlacementRequest {
  guest: string;
  memoryMiB: number;
  vcpus: number;
}

export interface Placement {
  guest: string;
  host: string | undefined;
  /** Why no host qualified (when host is undefined). */
  reason?: string;
}

/** Places guests one after the other on `hosts` (whose counts and free memory it updates as it goes). */
export function placeGuests(requests: PlacementRequest[], hosts: HostCandidate[]): Placement[] {
  const state = hosts.map((h) => ({ ...h }));
  return requests.map((r) => {
    const why: string[] = [];
    const fit = state.filter((h) => {
      if (h.unreachable !== undefined || h.freeKiB === undefined) return why.push(`${h.name}: ${h.unreachable ?? 'no free-memory figure'}`), false;
      if (h.cpus !== undefined && h.cpus < r.vcpus) return why.push(`${h.name}: ${h.cpus} CPUs < ${r.vcpus} vCPUs`), false;
      if (h.freeKiB < (r.memoryMiB + OVERHEAD_MIB) * 1024) return why.push(`${h.name}: ${Math.floor(h.freeKiB / 1024)} MiB free < ${r.memoryMiB + OVERHEAD_MIB} MiB`), false;
      if (h.maxGuests !== undefined && h.guests >= h.maxGuests) return why.push(`${h.name}: has its ${h.maxGuests} guests`), false;
      return true;
    });
    fit.sort((a, b) => a.guests - b.guests || (b.freeKiB ?? 0) - (a.freeKiB ?? 0) || a.name.localeCompare(b.name));
    const best = fit[0];
    if (!best) return { guest: r.guest, host: undefined, reason: why.join('; ') || 'no hosts in the inventory' };
    best.guests += 1;
    best.freeKiB = (best.freeKiB ?? 0) - (r.memoryMiB + OVERHEAD_MIB) * 1024;
    return { guest: r.guest, host: best.name };
  });
}
