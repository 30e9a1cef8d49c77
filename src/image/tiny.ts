/**
 * The tiny busybox image: the project's test image and demo image. A directory holding a static
 * busybox with its applet links, the kernel's modules (with modules.dep), the kernel itself under
 * /boot, a minimal /etc, and an /sbin/init that mounts proc/sys/dev, prints a banner, the marker
 * line and the root mount lines from /proc/mounts, gives a shell on the console and powers off
 * when the shell exits. It writes nothing to its root, so it runs on a read-only root.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { ImageError } from '../sys/errors.js';
import { withLock } from '../sys/lock.js';
import { linkTree } from '../sys/link-tree.js';
import type { DebianKernel } from './debian.js';

export interface TinyImageOptions {
  /** Where the image directory goes; built into a temp sibling and renamed into place. */
  dir: string;
  kernel: DebianKernel;
  /** Static busybox to install (default: the host's /bin/busybox, which must be static). */
  busybox?: string;
  /** The line /sbin/init prints once it runs (default XENROOT-READY). */
  marker?: string;
  /** Replace an existing image (default: keep it when it exists and is complete). */
  force?: boolean;
}

export const DEFAULT_MARKER = 'XENROOT-READY';

/**
 * Bumped whenever the image's content changes, so that cached images are rebuilt. Part of the
 * cached directory's name (test/support/kernel.ts): checkouts of different versions sharing one
 * cache then never rebuild each other's image.
 */
export const TINY_VERSION = 3;

/** The /sbin/init of the tiny image (pure; exported for tests). */
export function tinyInit(marker: string): string {
  return `#!/bin/busybox sh
# xenroot tiny image init: prove the root is up, then give a shell on the console.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
[ -e /proc/mounts ] || mount -t proc proc /proc
[ -d /sys/class ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
grep -q ' /tmp ' /proc/mounts || mount -t tmpfs tmpfs /tmp 2>/dev/null
echo "xenroot-tiny: $(cat /etc/hostname) up on $(uname -r)"
# The node's identity as the booted system sees it: kernel host name, a per-node file,
# the SSH host keys' fingerprints (hex SHA-256 of the key blob), the NICs and their addresses.
echo "xenroot-tiny: hostname $(hostname)"
[ -r /etc/motd ] && echo "xenroot-tiny: motd $(head -n 1 /etc/motd)"
for k in /etc/ssh/ssh_host_*_key.pub /run/xenroot/node/etc/ssh/ssh_host_*_key.pub; do
	[ -r "$k" ] && echo "xenroot-tiny: host-key $k $(cut -d ' ' -f 2 "$k" | base64 -d | sha256sum | cut -d ' ' -f 1)"
done
[ -r /run/xenroot/node/etc/hostname ] && echo "xenroot-tiny: run-node hostname $(cat /run/xenroot/node/etc/hostname)"
for d in /sys/class/net/*; do
	n="\${d##*/}"
	[ "$n" = lo ] && continue
	echo "xenroot-tiny: nic $n $(cat "$d/address") $(ip -4 addr show dev "$n" | sed -n 's/.*inet \\([0-9./]*\\).*/\\1/p' | head -n 1)"
done
grep -E ' / | /var | /tmp |:/' /proc/mounts | sed 's/^/xenroot-root: /'
echo ${shellQuote(marker)}
setsid cttyhack sh
echo "xenroot-tiny: shell exited, powering off"
sync
poweroff -f
`;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function stampText(opts: TinyImageOptions): string {
  return `v${TINY_VERSION} ${opts.kernel.kver} ${opts.marker ?? DEFAULT_MARKER}\n`;
}

async function readStamp(stamp: string): Promise<string | undefined> {
  try {
    return await readFile(stamp, 'utf8');
  } catch {
    return undefined;
  }
}

/** Builds (or reuses) the tiny image; returns its directory. */
export async function buildTinyImage(opts: TinyImageOptions): Promise<string> {
  const dir = resolve(opts.dir);
  const stamp = join(dir, '.xenroot-tiny');
  if (!opts.force && (await readStamp(stamp)) === stampText(opts)) return dir;
  await mkdir(dirname(dir), { recursive: true });
  // Test files run in parallel processes: one builds, the others wait and reuse its image.
  const lock = { fail: (err: NodeJS.ErrnoException) => new ImageError(`cannot lock ${dir}.lock: ${err.code ?? err.message}`, { cause: err }) };
  return withLock(`${dir}.lock`, lock, async () => {
    if (!opts.force && (await readStamp(stamp)) === stampText(opts)) return dir;
    return build(dir, opts);
  });
}

async function build(dir: string, opts: TinyImageOptions): Promise<string> {
  const busybox = opts.busybox ?? '/bin/busybox';
  if (!existsSync(busybox)) throw new ImageError(`busybox ${busybox} does not exist`, { hint: 'install busybox-static' });
  const { kver } = opts.kernel;
  const tmp = await mkdtemp(join(dirname(dir), `.tiny.`));
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'var', 'run', 'root', 'boot', 'lib/modules', 'mnt']) {
      await mkdir(join(tmp, d), { recursive: true });
    }
    await chmod(join(tmp, 'tmp'), 0o1777);
    await copyFile(busybox, join(tmp, 'bin/busybox'));
    await chmod(join(tmp, 'bin/busybox'), 0o755);
    const list = (await execa(busybox, ['--list-full'])).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    for (const full of list) {
      if (full === 'bin/busybox' || full === 'sbin/init' || full === 'linuxrc') continue;
      const depth = full.split('/').length - 1;
      if (depth === 0) continue;
      const target = full.startsWith('bin/') ? 'busybox' : `${'../'.repeat(depth)}bin/busybox`;
      await mkdir(join(tmp, dirname(full)), { recursive: true });
      if (!existsSync(join(tmp, full))) await symlink(target, join(tmp, full));
    }
    // The kernel's modules: hard links into the cache where possible (same filesystem), else a copy.
    await linkTree(opts.kernel.modulesDir, join(tmp, 'lib/modules', kver));
    await copyFile(opts.kernel.vmlinuz, join(tmp, 'boot', `vmlinuz-${kver}`));
    await writeFile(join(tmp, 'etc/hostname'), 'xenroot-tiny\n');
    await writeFile(join(tmp, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(join(tmp, 'etc/group'), 'root:x:0:\n');
    await writeFile(join(tmp, 'etc/shadow'), 'root::1::::::\n', { mode: 0o600 });
    await writeFile(join(tmp, 'etc/os-release'), 'NAME="xenroot tiny"\nID=xenroot-tiny\n');
    await writeFile(join(tmp, 'sbin/init'), tinyInit(opts.marker ?? DEFAULT_MARKER), { mode: 0o755 });
    await chmod(join(tmp, 'sbin/init'), 0o755);
    await writeFile(join(tmp, '.xenroot-tiny'), stampText(opts));
    if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err instanceof ImageError ? err : new ImageError(`building the tiny image in ${dir} failed: ${(err as Error).message}`, { cause: err });
  }
  return dir;
}
