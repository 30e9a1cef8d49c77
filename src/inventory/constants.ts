/**
 * Enumerations of the model, without the schema library: the CLI lists them in its help and
 * choice checks at start-up, where loading zod would cost more than the command itself.
 */

/** The initrd builders xenroot knows: its own, and the distributions' own. */
export const INITRD_BUILDERS = ['builtin', 'dracut', 'initramfs-tools', 'mkinitrd'] as const;
export type InitrdBuilder = (typeof INITRD_BUILDERS)[number];

/** Machine kinds a kernel command line and an initrd are made for: Xen PV, the QEMU test domain, physical PXE. */
export const BOOT_TARGETS = ['xen', 'qemu', 'pxe'] as const;
export type BootTarget = (typeof BOOT_TARGETS)[number];

/** Domain flavours a hypervisor runs: the Xen PV domain, or the QEMU test domain. */
export const DOMAIN_TARGETS = ['xen', 'qemu'] as const;
export type DomainTarget = (typeof DOMAIN_TARGETS)[number];

/** The formats `client import` reads: a CSV with a header, dnsmasq dhcp-host= lines, ISC dhcpd host blocks, Kea reservations (JSON). */
export const IMPORT_FORMATS = ['csv', 'dnsmasq', 'isc', 'kea'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/**
 * What a guest's domain does when it powers off or reboots (libvirt's offOptions in
 * domaincommon.rng; xl takes these too). The coredump actions are for a crash only: libvirt's
 * schema refuses them on on_poweroff and on_reboot.
 */
export const OFF_ACTIONS = ['destroy', 'restart', 'preserve', 'rename-restart'] as const;
/** What a guest's domain does when it crashes (libvirt's crashOptions). */
export const CRASH_ACTIONS = [...OFF_ACTIONS, 'coredump-destroy', 'coredump-restart'] as const;
