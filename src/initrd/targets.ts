/**
 * What each initrd target needs: the network drivers of the machine kind plus NFS client
 * support and overlayfs for the tmpfs-upper overlay root.
 */
import type { BootTarget } from '../inventory/schema.js';

export type Target = BootTarget;

/** NFS client modules; whatever else they need comes from modules.dep. */
export const NFS_MODULES = ['sunrpc', 'grace', 'lockd', 'nfs_acl', 'auth_rpcgss', 'dns_resolver', 'nfs', 'nfsv3', 'nfsv4'];
/** The overlay root (tmpfs upper over the read-only NFS lower). */
export const OVERLAY_MODULES = ['overlay'];
/** Physical NIC drivers for PXE clients by default; virtio_net so that QEMU PXE tests work. */
export const DEFAULT_PXE_NICS = ['e1000', 'e1000e', 'igb', 'r8169', 'tg3', 'bnx2', 'virtio_net', 'virtio_pci'];

/** NIC driver modules of a target (pxe: `nics` overrides the default list). */
export function nicModules(target: Target, nics?: string[]): string[] {
  switch (target) {
    case 'xen':
      return ['xen_netfront'];
    case 'qemu':
      return ['virtio_pci', 'virtio_net'];
    case 'pxe':
      return nics && nics.length ? nics : DEFAULT_PXE_NICS;
  }
}

/** Every module a target's initrd carries: NIC drivers, NFS, overlay, then extras. */
export function targetModules(target: Target, opts: { nics?: string[]; extra?: string[] } = {}): string[] {
  return [...nicModules(target, opts.nics), ...NFS_MODULES, ...OVERLAY_MODULES, ...(opts.extra ?? [])];
}
