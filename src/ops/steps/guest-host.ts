/**
 * Which hypervisor a guest command talks to, and the guest as the drivers take it. Shared by the
 * guest lifecycle workflows (start, stop, status, define, undefine, console).
 *
 * Which host: --connect > $XENROOT_CONNECT > the guest's `connect:` or the `connect:` of its inventory
 * host (`host:`; a guest has one or the other) > the site's `connect`. A guest with neither is
 * placed on an inventory host at its first start when the inventory has hosts (ops/placement.ts).
 * The inventory host of a command is the guest's `host:`, or the host whose URI the command
 * resolved to (so `--connect URI` of a known host still ships boot files there).
 * Which domain flavour: --target, else what the driver declares for its URI (xen:// runs the
 * Xen PV domain, qemu:// and test:// the QEMU test domain).
 */
import { hypervisorFor, resolveUri } from '../../hypervisor/connect.js';
import type { DomainGuest, Hypervisor } from '../../hypervisor/types.js';
import { requireEntry } from '../../inventory/lookup.js';
import { effectiveGuest } from '../../inventory/effective.js';
import { guestFiles } from '../../inventory/paths.js';
import type { DomainTarget, Guest, Host } from '../../inventory/schema.js';
import type { HostPaths } from '../../render/guest-spec.js';
import { loadInventory, type Inventory } from './store.js';
import { guestSpec } from '../../render/guest-spec.js';
import { revisionModel } from './revision-model.js';

export interface HostOptions {
  /** --connect URI. */
  connect?: string | undefined;
  /** --target xen|qemu (default: the driver's for its URI). */
  target?: DomainTarget | undefined;
  /** An open hypervisor to use instead of connecting (tests; one connection for many guests). */
  hypervisor?: Hypervisor | undefined;
}

export interface ResolvedGuest {
  inv: Inventory;
  guest: Guest;
  uri: string;
  /** The inventory host behind `uri`, if any. */
  host: { name: string; host: Host } | undefined;
}

/** Loads the inventory and finds the guest and the URI of its host. */
export async function resolveGuest(inventoryFile: string, name: string, opts: HostOptions): Promise<ResolvedGuest> {
  return resolveGuestIn(await loadInventory(inventoryFile), name, opts);
}

/** Finds the guest and the URI of its host in an inventory already read. InventoryError when there is no such guest. */
export function resolveGuestIn(inv: Inventory, name: string, opts: HostOptions): ResolvedGuest {
  const guest = requireEntry(inv.data, 'guest', name);
  const uri = guestUri(inv, guest, opts);
  return { inv, guest, uri, host: hostOf(inv, guest, uri) };
}

/** The URI of a guest's host under the precedence above. */
export function guestUri(inv: Inventory, guest: Guest, opts: HostOptions): string {
  // The guest's own connect or its host's URI, else its group's, else the site's (inventory/effective.ts).
  const viaHost = guest.host !== undefined ? inv.data.hosts[guest.host]?.connect : undefined;
  const own = guest.connect ?? viaHost ?? effectiveGuest(inv.data, 'this guest', guest).connect;
  return opts.hypervisor?.uri ?? resolveUri({ flag: opts.connect, guest: own, site: inv.data.site.connect });
}

/** The inventory host a guest is on at `uri`: its own `host:` when that is the URI, else a host with that URI. */
export function hostOf(inv: Inventory, guest: Guest, uri: string): { name: string; host: Host } | undefined {
  const own = guest.host !== undefined ? inv.data.hosts[guest.host] : undefined;
  if (own && own.connect === uri) return { name: guest.host as string, host: own };
  const found = Object.entries(inv.data.hosts).find(([, h]) => h.connect === uri);
  return found ? { name: found[0], host: found[1] } : undefined;
}

/** Runs fn on the given hypervisor, or on a fresh connection that is closed afterwards. */
export async function usingHypervisor<T>(uri: string, opts: HostOptions, fn: (h: Hypervisor) => Promise<T>): Promise<T> {
  if (opts.hypervisor) return fn(opts.hypervisor);
  const h = hypervisorFor(uri);
  await h.connect();
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

/** The guest as a driver takes it: spec for the flavour, and the home of its generated .cfg. */
export function domainGuest(inv: Inventory, name: string, h: Hypervisor, opts: HostOptions, hostPaths?: HostPaths): DomainGuest {
  const target = guestTarget(h, opts);
  // A guest on a published revision boots that revision.
  return { spec: guestSpec(revisionModel(inv.data), name, target, hostPaths), target, files: { cfg: guestFiles(inv.data, inv.path, name).cfg } };
}

/** The domain flavour a command runs: --target, else the driver's for its URI. */
export function guestTarget(h: Hypervisor, opts: HostOptions): DomainTarget {
  return opts.target ?? h.capabilities.defaultTarget;
}
