/**
 * Resolves a guest of the inventory into everything its configuration files say: one pure step
 * shared by the xl .cfg and libvirt XML renderers, so both always describe the same machine.
 */
import { InventoryError } from '../sys/errors.js';
import { bootFiles } from '../inventory/paths.js';
import type { DomainTarget, Guest, InventoryData } from '../inventory/schema.js';
import { nodeCmdline } from './cmdline.js';
import { findEntry, requireEntry } from '../inventory/lookup.js';
import { effectiveGuest } from '../inventory/effective.js';
import { guestRamdiskPath } from '../inventory/identity.js';

export interface GuestSpec {
  name: string;
  /** MiB */
  memory: number;
  /** MiB */
  maxmem: number;
  vcpus: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Pinned MAC, or undefined: the hypervisor chooses one at first start. */
  mac: string | undefined;
  bridge: string;
  onPoweroff: Guest['onPoweroff'];
  onReboot: Guest['onReboot'];
  onCrash: Guest['onCrash'];
  /** The console's log file on the guest's host (qemu flavour: the serial chardev's <log>). */
  consoleLog?: string | undefined;
  /**
   * The QEMU binary libvirt runs for this domain (qemu flavour only; absent: libvirt's default).
   * Set at run time only, never from the inventory: a private NFS server's wrapper that starts
   * QEMU inside the server's network namespace (deploy/nfs-server.ts).
   */
  emulator?: string | undefined;
}

/** Where a guest's boot files and console log are on its host, when it is not the site's boot dir. */
export interface HostPaths {
  kernel: string;
  initrd: string;
  consoleLog?: string | undefined;
}

/**
 * The guest as its config files describe it. `ramdisk: 'node'` (the default) boots the guest's own
 * ramdisk (the image's initrd with its identity piece appended, inventory/identity.ts
 * guestRamdiskPath); 'image' the image's initrd alone (a throwaway test guest has no identity).
 * `host`: the boot files as shipped to the guest's inventory host (the image's initrd,
 * without the identity piece).
 */
export function guestSpec(inv: InventoryData, name: string, target: DomainTarget = 'xen', host?: HostPaths, opts: { ramdisk?: 'node' | 'image' } = {}): GuestSpec {
  // Group-able values (image, append, bridge) come resolved: own > group > site.
  const guest = effectiveGuest(inv, name, requireEntry(inv, 'guest', name));
  const image = findEntry(inv, 'image', guest.image);
  if (!image) throw new InventoryError(`guests.${name}.image names image "${guest.image}", which is not in images`);
  const site = inv.site;
  const files = bootFiles(site, guest.image, image, target);
  const cmdline = nodeCmdline(inv, guest.image, guest, target);
  return {
    name,
    memory: guest.memory,
    maxmem: guest.maxmem ?? guest.memory,
    vcpus: guest.vcpus,
    kernel: files.kernel,
    initrd: opts.ramdisk === 'image' ? files.initrd : guestRamdiskPath(files.initrd, name),
    cmdline,
    mac: guest.mac,
    bridge: guest.bridge,
    onPoweroff: guest.onPoweroff,
    onReboot: guest.onReboot,
    onCrash: guest.onCrash,
    ...(host ? { kernel: host.kernel, initrd: host.initrd, consoleLog: host.consoleLog } : {}),
  };
}
