/**
 * Resolves a guest of the inventory into everything its configuration files say: one pure step
 * shared by the xl .cfg and libvirt XML renderers, so both always describe the same machine.
 */
import { InventoryError } from '../errors.js';
import { bootFiles, exportPath, type BootTarget } from '../inventory/paths.js';
import type { Guest, InventoryData } from '../inventory/schema.js';
import { buildCmdline } from './cmdline.js';
import { requireEntry } from '../inventory/lookup.js';

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
}

export function guestSpec(inv: InventoryData, name: string, target: Exclude<BootTarget, 'pxe'> = 'xen'): GuestSpec {
  const guest = requireEntry(inv, 'guest', name);
  const image = inv.images[guest.image];
  if (!image) throw new InventoryError(`guests.${name}.image names image "${guest.image}", which is not in images`);
  const site = inv.site;
  const files = bootFiles(site, guest.image, image, target);
  const cmdline = buildCmdline({
    server: site.nfsServer,
    path: exportPath(site, guest.image, image),
    nfsVersion: image.nfsVersion ?? site.nfsVersion,
    nfsOptions: image.nfsOptions ?? site.nfsOptions,
    console: target,
    selinux: site.selinux,
    extra: [image.append, guest.append],
  });
  return {
    name,
    memory: guest.memory,
    maxmem: guest.maxmem ?? guest.memory,
    vcpus: guest.vcpus,
    kernel: files.kernel,
    initrd: files.initrd,
    cmdline,
    mac: guest.mac,
    bridge: guest.bridge ?? site.bridge,
    onPoweroff: guest.onPoweroff,
    onReboot: guest.onReboot,
    onCrash: guest.onCrash,
  };
}
