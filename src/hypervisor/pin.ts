/**
 * First-boot MAC pinning, the hypervisor's part: read the MAC a running guest really has.
 *
 * The MAC comes from the hypervisor's live view (libvirt: live domain XML; xl: network-list),
 * never from the definition. An all-zero, multicast or malformed MAC is never pinned: libvirt
 * reports 00:00:00:00:00:00 for a libxl vif whose MAC was left empty while libxl boots the guest
 * with a random one, so we re-read for a while and then refuse. Pinning it into the inventory
 * is the start workflow's job (src/ops/start-guest.ts).
 */
import { HypervisorError } from '../sys/errors.js';
import { parseMac } from '../inventory/validate.js';
import { log } from '../sys/log.js';
import type { Hypervisor } from './types.js';

/** Why a MAC read from a hypervisor cannot be pinned, or undefined when it can. Pure. */
export function unpinnableReason(mac: string): string | undefined {
  const m = mac.trim().toLowerCase();
  if (m === '') return 'the hypervisor reported no MAC';
  if (/^00[:-]?00[:-]?00[:-]?00[:-]?00[:-]?00$/.test(m)) return 'the hypervisor reported 00:00:00:00:00:00 (not the MAC the guest boots with)';
  if (!/^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/.test(m)) return `"${mac}" is not a MAC address`;
  if (parseMac(m) === undefined) return `${mac} is a multicast/broadcast address`;
  return undefined;
}

export interface ReadMacOptions {
  /** How long to keep re-reading while the hypervisor reports no usable MAC (default 5 s). */
  waitMs?: number;
  intervalMs?: number;
}

/** The MAC of the guest's first NIC as the running domain has it; waits out a zero MAC, then refuses. */
export async function readLiveMac(h: Hypervisor, name: string, opts: ReadMacOptions = {}): Promise<string> {
  const end = Date.now() + (opts.waitMs ?? 5_000);
  let last = '';
  for (;;) {
    const nics = await h.interfaces(name);
    if (nics.length === 0) {
      throw new HypervisorError(`domain '${name}' at ${h.uri} has no network interface, so there is no MAC to pin`, {
        hint: 'the rendered guest always has one NIC; was the domain defined by something else?',
      });
    }
    last = nics[0]?.mac ?? '';
    const problem = unpinnableReason(last);
    if (!problem) return parseMac(last) as string;
    if (Date.now() >= end) {
      throw new HypervisorError(`refusing to pin the MAC of '${name}': ${problem}`, {
        hint: `set one by hand with \`xenroot mac ${name} --set MAC\` (the guest's console shows its NIC's address)`,
      });
    }
    log().debug({ name, mac: last, problem }, 'no usable MAC yet; reading again');
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
