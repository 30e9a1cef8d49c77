/**
 * `xenroot start NAME`: boots a guest; on its first boot pins the MAC the hypervisor gave it (the
 * HOWTO's "pin the MAC after the first boot", automated). The guest's .cfg/.xml are brought up to
 * date first (the xl toolstack boots the .cfg itself), then a driver that keeps definitions
 * (libvirt) redefines and starts a defined domain, and any driver creates a transient one.
 */
import { log } from '../sys/log.js';
import { HypervisorCallError } from '../hypervisor/errors.js';
import { readLiveMac } from '../hypervisor/pin.js';
import { isActive, type DomainState } from '../hypervisor/types.js';
import { setGuestMacEntry } from '../inventory/guests.js';
import type { DomainTarget } from '../inventory/schema.js';
import { updateInventory } from './steps/store.js';
import { HypervisorError } from '../sys/errors.js';
import type { ShippedFile } from '../hypervisor/boot-store.js';
import { domainGuest, guestTarget, resolveGuestIn, usingHypervisor, type HostOptions, type ResolvedGuest } from './steps/guest-host.js';
import { writeGuestFiles } from './steps/guest-files.js';
import { ensureHostBoot } from './steps/host-boot.js';
import { needsPlacement, placeGuestsOnHosts } from './steps/placement.js';
import { recordConsoleStart } from './console-log.js';

export interface PinResult {
  /** The MAC now pinned in the inventory. */
  mac: string;
  /** The MAC the running guest has. */
  observed: string;
  /** 'pinned': we wrote it; 'kept': another start had pinned `mac` first (differs from observed). */
  outcome: 'pinned' | 'kept';
}

/**
 * Pins `observed` unless the guest got a MAC meanwhile (a concurrent first start): then keeps that
 * one. The inventory and the guest's files change together, under the lock.
 */
export async function pinFirstBootMac(inventoryFile: string, name: string, observed: string): Promise<PinResult> {
  const r = await updateInventory(inventoryFile, async (inv) => {
    const pinned = setGuestMacEntry(inv, name, observed, 'first-boot', { onlyIfUnpinned: true });
    if (pinned.changed) await writeGuestFiles(inv, [name]);
    return pinned;
  });
  const mac = r.mac ?? observed;
  if (r.changed || mac === observed) return { mac, observed, outcome: 'pinned' };
  log().warn({ name, pinned: mac, observed }, 'another start pinned a different MAC first; keeping it');
  return { mac, observed, outcome: 'kept' };
}

export interface StartResult {
  name: string;
  uri: string;
  target: DomainTarget;
  /** 'defined': a persistent domain was (re)defined and started; 'transient': created from its source. */
  mode: 'defined' | 'transient';
  state: DomainState;
  /** The MAC the running guest has. */
  mac: string;
  /** How the MAC got into the inventory on this start. */
  pin: 'already-pinned' | PinResult['outcome'];
  /** The pinned MAC (differs from `mac` only when another start pinned first). */
  pinnedMac: string;
  warnings: string[];
  /** The inventory host it runs on, if any. */
  host?: string | undefined;
  /** 'placed': xenroot chose the host on this start. */
  placement?: 'placed' | 'given';
  /** Boot files on the host: each either sent now or already there. */
  shipped?: ShippedFile[];
}

export interface StartOptions extends HostOptions {
  /** Progress lines (shipping large boot files). */
  say?: (line: string) => void;
  /**
   * The QEMU binary of this start (qemu flavour only): a private NFS server's wrapper that runs
   * QEMU in the server's network namespace (`xenroot demo`). Used for this start, saved nowhere.
   */
  emulator?: string;
}

/**
 * Starts a guest; on its first boot pins the MAC the hypervisor gave it. A guest that names no
 * host is placed first when the inventory has hosts; on an inventory host (libvirt) its kernel and
 * initrd are shipped as volumes when missing or truncated (a size check before every start).
 */
export async function startGuest(inventoryFile: string, name: string, opts: StartOptions = {}): Promise<StartResult> {
  // The inventory is read once, under the lock, where the guest's files are brought up to date
  // (the files the admin sees are what boots; nothing is written when they are): the guest
  // resolved there is the one everything below is given. A guest still to be placed is placed
  // first (asking the hosts holds no lock), then read and written the same way.
  const filesWritten = (): Promise<ResolvedGuest | undefined> =>
    updateInventory(inventoryFile, async (inv) => {
      const resolved = resolveGuestIn(inv, name, opts);
      if (needsPlacement(inv, name, opts)) return undefined;
      await writeGuestFiles(inv, [name]);
      return resolved;
    });
  let r = await filesWritten();
  let placement: StartResult['placement'] = r?.guest.host !== undefined ? 'given' : undefined;
  if (r === undefined) {
    const [p] = await placeGuestsOnHosts(inventoryFile, [name], opts);
    if (p && p.host === undefined) throw new HypervisorError(`no inventory host can take guest '${name}': ${p.reason ?? 'none answered'}`, { hint: '`xenroot host list` shows the hosts; `xenroot create --host H` or `host:` in the inventory places a guest by hand' });
    r = await filesWritten();
    if (r === undefined) throw new HypervisorError(`guest '${name}' was not placed on an inventory host`, { hint: '`xenroot create --host H` or `host:` in the inventory places a guest by hand' });
    placement = 'placed';
  }
  const g: ResolvedGuest = r;
  return usingHypervisor(g.uri, opts, async (h) => {
    const r = g;
    const before = await h.state(name);
    if (isActive(before)) {
      throw new HypervisorCallError(`guest '${name}' is already running at ${h.uri} (state ${before})`, 'already-running', h.uri, {
        hint: `\`xenroot console ${name}\` attaches to it; \`xenroot stop ${name}\` stops it`,
      });
    }
    const target = guestTarget(h, opts);
    const onHost = await ensureHostBoot(r.inv.data, name, r.host, h, target, opts.say);
    const shipped: ShippedFile[] | undefined = onHost?.shipped;
    // The console log's directory (and the pool `console --log-tail` reads it through) exists before the guest does.
    if (onHost && r.host && h.consoleLog) await recordConsoleStart(r.inv, h.consoleLog(target), r.host.name, name);
    const guest = domainGuest(r.inv, name, h, opts, onHost?.paths);
    if (opts.emulator !== undefined && guest.target === 'qemu') guest.spec.emulator = opts.emulator;
    let mode: StartResult['mode'];
    if (before === 'shutoff' && h.capabilities.persistentDefinitions) {
      await h.define(guest); // refresh the definition from the inventory, then boot it
      await h.start(name);
      mode = 'defined';
    } else {
      await h.create(guest);
      mode = 'transient';
    }
    const warnings: string[] = [];
    const mac = await readLiveMac(h, name);
    let pin: StartResult['pin'];
    let pinnedMac: string;
    if (r.guest.mac) {
      pin = 'already-pinned';
      pinnedMac = r.guest.mac;
      if (mac !== r.guest.mac) warnings.push(`guest '${name}' runs with MAC ${mac}, but ${r.guest.mac} is pinned`);
    } else {
      const p = await pinFirstBootMac(inventoryFile, name, mac);
      pin = p.outcome;
      pinnedMac = p.mac;
      if (p.outcome === 'kept') {
        warnings.push(`another start pinned ${p.mac} for '${name}' first; this instance runs with ${mac}: restart it to use the pinned MAC`);
      }
    }
    const state = await h.state(name);
    log().debug({ name, uri: h.uri, mode, mac, pin }, 'guest started');
    return {
      name,
      uri: h.uri,
      target: guest.target,
      mode,
      state,
      mac,
      pin,
      pinnedMac,
      warnings,
      ...(r.host ? { host: r.host.name } : {}),
      ...(placement ? { placement } : {}),
      ...(shipped ? { shipped } : {}),
    };
  });
}
