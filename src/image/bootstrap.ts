/**
 * A real Debian root directory made with mmdebstrap, ready for an NFS root (what was
 * booted with all three initrds: notes/issue11-real-images.md):
 *  - minbase + systemd-sysv, udev, kmod, the kernel (linux-image-amd64) and initramfs-tools with
 *    busybox (the in-image builder), plus what the caller adds; the image's own /boot/initrd.img is
 *    not built (INITRD=No: xenroot builds the initrds that can mount an NFS root);
 *  - /etc/fstab without a local root (the initrd mounts it; systemd-remount-fs has nothing to do),
 *    tmpfs on /tmp and /var/tmp for roots booted without the overlay;
 *  - the NIC carrying the root is left alone: systemd-networkd and NetworkManager get configs that
 *    leave every link unmanaged (both inert unless installed and enabled), and an ifupdown
 *    `auto`/`allow-hotplug` stanza for a NIC is reported as a warning;
 *  - a serial getty on the console comes from systemd-getty-generator; for the Xen PV console
 *    /etc/systemd/system/serial-getty@hvc0.service is the template without BindsTo=/After=
 *    dev-%i.device (under nested emulation udev processed hvc0 after systemd's 90 s device timeout,
 *    and the getty was never started); a drop-in cannot remove dependencies (systemd.unit(5));
 *  - root can log in only when asked for: a password (`chpasswd` in the image, read from stdin) or
 *    autologin on the serial consoles; otherwise root stays locked as Debian leaves it.
 * The tree is built in DIR.tmp-PID and renamed into place; an interrupted build leaves nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { DependencyError, ImageError } from '../sys/errors.js';
import { interruptSignal, onCleanup } from '../sys/lifetime.js';
import { log } from '../sys/log.js';
import { which } from '../sys/which.js';
import { readImageFile } from './image-file.js';
import { kernelsInDir } from './kver.js';

export interface BootstrapOptions {
  /** The image directory to create (must not exist). */
  dir: string;
  /** Debian suite (bookworm). */
  suite: string;
  /** Host name written to /etc/hostname. */
  hostname: string;
  /** Further packages. */
  packages?: string[];
  /** Mirror URL (default: mmdebstrap's, from the host's apt sources for a matching suite). */
  mirror?: string;
  /** Set root's password (hashed by chpasswd inside the image; never on a command line). */
  rootPassword?: string;
  /** Log root in automatically on the serial consoles. */
  autologin?: boolean;
  onStep?: (text: string) => void;
}

export interface BootstrapResult {
  dir: string;
  /** Kernel release installed in the image. */
  kver: string;
  packages: string[];
  ms: number;
  warnings: string[];
}

/** The packages of every bootstrapped image (minbase adds the essential ones). */
export const BASE_PACKAGES = ['systemd-sysv', 'udev', 'kmod', 'linux-image-amd64', 'initramfs-tools', 'busybox'];

/**
 * A short key of what bootstrap puts in an image (packages, files, suite, host name): caches of
 * bootstrapped images (the test fixture, the boot bench) are named by it. Pure.
 */
export function bootstrapRecipeKey(suite: string, hostname: string, packages: string[] = []): string {
  return createHash('sha256')
    .update(JSON.stringify([BASE_PACKAGES, packages, suite, hostname, nfsRootFstab(), hvc0GettyUnit(false), networkdUnmanaged(), networkManagerUnmanaged()]))
    .digest('hex')
    .slice(0, 12);
}

/** /etc/fstab of an NFS-root image (pure). */
export function nfsRootFstab(): string {
  return [
    '# xenroot: / is the NFS root the initrd mounted (with a tmpfs-upper overlay): no line for it.',
    '# tmpfs for the places that must be writable when the root is booted without the overlay.',
    'tmpfs /tmp tmpfs mode=1777,nosuid,nodev 0 0',
    'tmpfs /var/tmp tmpfs mode=1777,nosuid,nodev 0 0',
    '',
  ].join('\n');
}

const AGETTY = "/sbin/agetty -o '-p -- \\\\u' --keep-baud 115200,57600,38400,9600 - $TERM";
const AGETTY_AUTOLOGIN = "/sbin/agetty -o '-p -f -- \\\\u' --keep-baud --autologin root 115200,57600,38400,9600 - $TERM";

/**
 * serial-getty@hvc0.service: systemd 252's serial-getty@.service without BindsTo=/After=
 * dev-%i.device (hvc_xen is built into the kernel: /dev/hvc0 exists from the start). Pure.
 */
export function hvc0GettyUnit(autologin: boolean): string {
  return `# xenroot: the Xen PV console. serial-getty@.service without BindsTo=/After=dev-%i.device:
# /dev/hvc0 exists from early boot (hvc_xen is built in); waiting for its device unit timed out
# after 90 s where udev was slow (nested emulation), and the getty never started.
[Unit]
Description=Serial Getty on %I (xenroot, no device wait)
Documentation=man:agetty(8) man:systemd-getty-generator(8)
After=systemd-user-sessions.service plymouth-quit-wait.service getty-pre.target rc-local.service
Before=getty.target
IgnoreOnIsolate=yes
Conflicts=rescue.service
Before=rescue.service
ConditionPathExists=/dev/%I

[Service]
ExecStart=-${autologin ? AGETTY_AUTOLOGIN : AGETTY}
Type=idle
Restart=always
UtmpIdentifier=%I
StandardInput=tty
StandardOutput=tty
TTYPath=/dev/%I
TTYReset=yes
TTYVHangup=yes
IgnoreSIGPIPE=no
SendSIGHUP=yes

[Install]
WantedBy=getty.target
`;
}

/** The drop-in that logs root in on every serial getty (serial-getty@.service.d/autologin.conf). Pure. */
export function autologinDropIn(): string {
  return `# xenroot: asked for with --autologin\n[Service]\nExecStart=\nExecStart=-${AGETTY_AUTOLOGIN}\n`;
}

/** systemd-networkd: every link unmanaged, so the NIC the initrd configured keeps its address. Pure. */
export function networkdUnmanaged(): string {
  return `# xenroot: the NIC carrying the NFS root was configured by the initrd. networkd would flush the
# address of a link a .network file matches, and the root with it: leave links unmanaged. A file
# that sorts before this one (e.g. 10-eth1.network) still configures the NICs it names.
[Match]
Name=*

[Link]
Unmanaged=yes
`;
}

/** NetworkManager: the same. Pure. */
export function networkManagerUnmanaged(): string {
  return `# xenroot: the NIC carrying the NFS root was configured by the initrd; NetworkManager leaves it alone.
[keyfile]
unmanaged-devices=*
`;
}

/** ifupdown stanzas that would bring a NIC up (and take it down at shutdown): `auto X` / `allow-hotplug X` for X other than lo. Pure. */
export function ifupdownProblems(interfaces: string): string[] {
  const out: string[] = [];
  for (const line of interfaces.split('\n')) {
    const m = /^\s*(auto|allow-hotplug|allow-auto)\s+(.*)$/.exec(line);
    if (!m) continue;
    for (const nic of m[2]!.trim().split(/\s+/)) if (nic && nic !== 'lo') out.push(`/etc/network/interfaces: "${line.trim()}" makes ifupdown manage ${nic}; on an NFS root the boot NIC must be left to the initrd`);
  }
  return out;
}

async function writeIn(root: string, rel: string, text: string, mode = 0o644): Promise<void> {
  const p = join(root, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, text, { mode });
}

/** Runs mmdebstrap into a temp dir beside `dir`, applies the NFS-root setup, renames it into place. */
export async function bootstrapImage(o: BootstrapOptions): Promise<BootstrapResult> {
  const t0 = performance.now();
  const step = o.onStep ?? (() => undefined);
  if (!which('mmdebstrap')) throw new DependencyError('mmdebstrap was not found on this host', { hint: 'install the Debian package mmdebstrap' });
  if (existsSync(o.dir)) throw new ImageError(`${o.dir} already exists`, { hint: 'choose another --dir, or remove it first' });
  const packages = [...new Set([...BASE_PACKAGES, ...(o.packages ?? [])])];
  const tmp = `${o.dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(o.dir, '..'), { recursive: true });
  const undo = onCleanup(`half-made image ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
  const warnings: string[] = [];
  try {
    step(`mmdebstrap ${o.suite} (${packages.length} packages and their dependencies)`);
    const args = ['--variant=minbase', '--mode=root', '--format=directory', `--include=${packages.join(',')}`, o.suite, tmp, ...(o.mirror ? [o.mirror] : [])];
    log().debug({ args }, 'mmdebstrap');
    const r = await execa('mmdebstrap', args, {
      all: true,
      reject: false,
      // The kernel's postinst hook skips update-initramfs: xenroot builds the initrds an NFS root needs.
      env: { INITRD: 'No' },
      cancelSignal: interruptSignal(),
      forceKillAfterDelay: 5_000,
    });
    if (r.isCanceled) throw interruptSignal().reason;
    if (r.exitCode !== 0) {
      throw new ImageError(`mmdebstrap ${o.suite} failed (exit ${r.exitCode}): ${(r.all ?? '').trim().split('\n').slice(-3).join(' | ')}`, {
        hint: 'check the suite and package names and that the mirror is reachable',
      });
    }
    step('setting the image up for an NFS root');
    await writeIn(tmp, 'etc/hostname', `${o.hostname}\n`);
    await writeIn(tmp, 'etc/fstab', nfsRootFstab());
    await writeIn(tmp, 'etc/systemd/network/90-xenroot-unmanaged.network', networkdUnmanaged());
    await writeIn(tmp, 'etc/NetworkManager/conf.d/90-xenroot-unmanaged.conf', networkManagerUnmanaged());
    await writeIn(tmp, 'etc/systemd/system/serial-getty@hvc0.service', hvc0GettyUnit(!!o.autologin));
    if (o.autologin) await writeIn(tmp, 'etc/systemd/system/serial-getty@.service.d/autologin.conf', autologinDropIn());
    // Each boot of a shared image gets its own transient machine id.
    await writeFile(join(tmp, 'etc/machine-id'), '');
    if (o.rootPassword !== undefined) {
      step('setting root\'s password');
      const p = await execa('chroot', [tmp, '/usr/sbin/chpasswd'], { input: `root:${o.rootPassword}\n`, reject: false, all: true });
      if (p.exitCode !== 0) throw new ImageError(`setting root's password failed: ${(p.all ?? '').trim()}`);
    }
    // What the packages installed is read as image data: inside the new root, regular files only.
    const ifaces = await readImageFile(tmp, 'etc/network/interfaces').then((b) => b.toString('utf8'), () => '');
    warnings.push(...ifupdownProblems(ifaces));
    const kvers = await kernelsInDir(tmp);
    const kver = kvers[kvers.length - 1];
    if (!kver) throw new ImageError(`the image made by mmdebstrap has no kernel (no /boot/vmlinuz-KVER with /lib/modules/KVER)`, { hint: 'linux-image-amd64 must be installable from the mirror' });
    await rename(tmp, o.dir);
    undo.release();
    return { dir: o.dir, kver, packages, ms: Math.round(performance.now() - t0), warnings };
  } catch (err) {
    await undo.run();
    throw err;
  }
}
