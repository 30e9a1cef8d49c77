/** Fixtures for the hosts tests (issue 15): marker initrds, a two-image inventory with hosts. */
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A gzip'd newc initrd (static busybox) whose /init prints `MARKER <cmdline>` and its NICs on the
 * console device `tty` (hvc0 for Xen PV, ttyS0 for the QEMU test domain), then idles. `netfront`:
 * xen-netfront.ko to load first (a PV guest's NIC).
 */
export async function markerInitrd(path: string, marker: string, tty: 'hvc0' | 'ttyS0', netfront?: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-hosts-initrd-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys']) mkdirSync(join(dir, d));
    copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
    if (netfront) copyFileSync(netfront, join(dir, 'xen-netfront.ko'));
    writeFileSync(
      join(dir, 'init'),
      [
        '#!/bin/busybox sh',
        '/bin/busybox mount -t proc proc /proc',
        '/bin/busybox mount -t sysfs sysfs /sys',
        '/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null',
        '[ -f /xen-netfront.ko ] && /bin/busybox insmod /xen-netfront.ko',
        `echo "${marker} $(/bin/busybox cat /proc/cmdline)" >/dev/${tty}`,
        `for n in /sys/class/net/*; do echo "nic \${n##*/} $(/bin/busybox cat $n/address)" >/dev/${tty}; done`,
        'while :; do /bin/busybox sleep 3600; done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    await execa('sh', ['-c', `cd "${dir}" && find . | cpio -o -H newc --quiet | gzip -1 > "${path}"`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
