/** `xenroot define NAME` / `xenroot undefine NAME`: persistent domain definitions, where the driver keeps them. */
import type { DomainTarget } from '../inventory/schema.js';
import { guestFiles } from '../inventory/paths.js';
import { updateInventory } from './steps/store.js';
import { domainGuest, guestTarget, resolveGuest, usingHypervisor, type HostOptions } from './steps/guest-host.js';
import { ensureHostBoot } from './steps/host-boot.js';
import { log } from '../sys/log.js';
import { writeGuestFiles } from './steps/guest-files.js';

export interface DefineResult {
  name: string;
  uri: string;
  target: DomainTarget;
  /** false: the driver keeps no definitions (xl); `cfg` is the definition. */
  defined: boolean;
  cfg?: string;
}

/** Defines (or redefines) a persistent domain from the inventory; with xl, writes NAME.cfg, which is the definition. */
export async function defineGuest(inventoryFile: string, name: string, opts: HostOptions = {}): Promise<DefineResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return usingHypervisor(r.uri, opts, async (h) => {
    // On an inventory host the definition names the boot files there: ship them first.
    const onHost = h.capabilities.persistentDefinitions ? await ensureHostBoot(r.inv.data, name, r.host, h, guestTarget(h, opts)) : undefined;
    // Its console log's directory exists before anything starts the definition (qemu opens the file).
    // (Xen: xenconsoled's directory; a host that keeps no guest logs is told about at start, not refused.)
    const target = guestTarget(h, opts);
    if (onHost && h.consoleLog) await h.consoleLog(target).ensurePool().catch((err: unknown) => {
      if (target === 'qemu') throw err;
      log().warn({ name, err: (err as Error).message }, 'the host keeps no Xen console logs xenroot can read (xenconsoled --log=guest; docs/hosts.md)');
    });
    const guest = domainGuest(r.inv, name, h, opts, onHost?.paths);
    if (!h.capabilities.persistentDefinitions) {
      await updateInventory(inventoryFile, (inv) => writeGuestFiles(inv, [name]));
      return { name, uri: h.uri, target: guest.target, defined: false, cfg: guestFiles(r.inv.data, r.inv.path, name).cfg };
    }
    await h.define(guest);
    return { name, uri: h.uri, target: guest.target, defined: true };
  });
}

/** Removes the persistent definition (a running guest keeps running as a transient domain). */
export async function undefineGuest(inventoryFile: string, name: string, opts: HostOptions = {}): Promise<{ name: string; uri: string; undefined: boolean }> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return usingHypervisor(r.uri, opts, async (h) => {
    if (!h.capabilities.persistentDefinitions) return { name, uri: h.uri, undefined: false };
    const state = await h.state(name);
    if (state === 'undefined') return { name, uri: h.uri, undefined: false };
    await h.undefine(name);
    return { name, uri: h.uri, undefined: true };
  });
}
