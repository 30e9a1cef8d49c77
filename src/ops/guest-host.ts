/**
 * Which hypervisor a guest command talks to, and the guest as the drivers take it. Shared by the
 * guest lifecycle workflows (start, stop, status, define, undefine, console).
 *
 * Which host: --connect > $XENROOT_CONNECT > the guest's `connect:` > the site's `connect`.
 * Which domain flavour: --target, else what the driver declares for its URI (xen:// runs the
 * Xen PV domain, qemu:// and test:// the QEMU test domain).
 */
import { hypervisorFor, resolveUri } from '../hypervisor/connect.js';
import type { DomainGuest, Hypervisor } from '../hypervisor/types.js';
import { requireEntry } from '../inventory/lookup.js';
import { effectiveGuest } from '../inventory/effective.js';
import { guestFiles } from '../inventory/paths.js';
import type { DomainTarget, Guest } from '../inventory/schema.js';
import { loadInventory, type Inventory } from '../inventory/store.js';
import { guestSpec } from '../render/guest-spec.js';

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
}

/** Loads the inventory and finds the guest and the URI of its host. */
export async function resolveGuest(inventoryFile: string, name: string, opts: HostOptions): Promise<ResolvedGuest> {
  const inv = await loadInventory(inventoryFile);
  const guest = requireEntry(inv.data, 'guest', name);
  return { inv, guest, uri: guestUri(inv, guest, opts) };
}

/** The URI of a guest's host under the precedence above. */
export function guestUri(inv: Inventory, guest: Guest, opts: HostOptions): string {
  // The guest's own connect, else its group's, else the site's (inventory/effective.ts).
  return opts.hypervisor?.uri ?? resolveUri({ flag: opts.connect, guest: effectiveGuest(inv.data, 'this guest', guest).connect, site: inv.data.site.connect });
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
export function domainGuest(inv: Inventory, name: string, h: Hypervisor, opts: HostOptions): DomainGuest {
  const target = opts.target ?? h.capabilities.defaultTarget;
  return { spec: guestSpec(inv.data, name, target), target, files: { cfg: guestFiles(inv.data, inv.path, name).cfg } };
}
