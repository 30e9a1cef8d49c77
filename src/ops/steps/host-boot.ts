/**
 * A guest's boot files on its inventory host: which local files, under which
 * content-addressed volume names, at which paths on the host; and the console log path there.
 * Shared by the writers of the guest's .cfg/.xml (they name the host's paths) and by start (which
 * ships the files first).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bootVolumeName, type BootFile, type ShippedFile } from '../../hypervisor/boot-store.js';
import type { Hypervisor } from '../../hypervisor/types.js';
import { consoleLogPath } from '../../hypervisor/console-log.js';
import { isXlUri } from '../../hypervisor/connect.js';
import { hashSource } from '../../deploy/tftp.js';
import { effectiveGuest } from '../../inventory/effective.js';
import { findEntry } from '../../inventory/lookup.js';
import { bootFiles, requireKver } from '../../inventory/paths.js';
import type { DomainTarget, Host, InventoryData } from '../../inventory/schema.js';
import type { HostPaths } from '../../render/guest-spec.js';
import { ImageError } from '../../sys/errors.js';

/** Hashes of local boot files for this process (size, mtime and inode checked on every use). */
const hashes: Parameters<typeof hashSource>[2] = {};

/** Whether a host's guests get their boot files shipped (every libvirt host; xl:// boots local paths). */
export function shipsBootFiles(host: Host): boolean {
  return !isXlUri(host.connect);
}

export interface GuestBoot {
  files: BootFile[];
  paths: HostPaths;
}

/**
 * The boot files of guest NAME for flavour `target` on `host`: local paths, sha256, volume names,
 * the paths on the host. Throws ImageError when a local file is missing (with `optional`: undefined).
 */
export async function guestBootOnHost(data: InventoryData, name: string, host: Host, target: DomainTarget, optional = false): Promise<GuestBoot | undefined> {
  const own = findEntry(data, 'guest', name);
  // The image through the guest's group when it has none of its own (inventory/effective.ts).
  const guest = own ? effectiveGuest(data, name, own) : undefined;
  const image = guest ? findEntry(data, 'image', guest.image) : undefined;
  if (!guest || !image) return undefined;
  const kver = requireKver(guest.image, image);
  const local = bootFiles(data.site, guest.image, image, target);
  const files: BootFile[] = [];
  for (const [path, prefix] of [
    [local.kernel, `vmlinuz-${kver}`],
    [local.initrd, `initrd-${guest.image}-${kver}-${target}`],
  ] as const) {
    const st = await stat(path).catch(() => undefined);
    if (!st) {
      if (optional) return undefined;
      throw new ImageError(`${path} does not exist: guest ${name} has no ${prefix.startsWith('vmlinuz') ? 'kernel' : `${target} initrd`} to ship to its host`, {
        hint: `build it with \`xenroot initrd build ${guest.image} --target ${target}\``,
      });
    }
    const sha256 = await hashSource(path, st, hashes);
    files.push({ local: path, name: bootVolumeName(prefix, sha256), size: st.size, sha256 });
  }
  const [k, i] = files as [BootFile, BootFile];
  return {
    files,
    paths: { kernel: join(host.bootDir, k.name), initrd: join(host.bootDir, i.name), ...(target === 'qemu' ? { consoleLog: consoleLogPath('qemu', name).path } : {}) },
  };
}

/** Host paths for the generated Xen files (.cfg/.xml) of guests on shipping hosts; guests whose files are not built yet are left out. */
export async function generatedHostPaths(data: InventoryData, names: string[]): Promise<Map<string, HostPaths>> {
  const out = new Map<string, HostPaths>();
  for (const n of names) {
    const hostName = data.guests[n]?.host;
    const host = hostName === undefined ? undefined : findEntry(data, 'host', hostName);
    if (!host || !shipsBootFiles(host)) continue;
    const b = await guestBootOnHost(data, n, host, 'xen', true);
    if (b) out.set(n, b.paths);
  }
  return out;
}

/**
 * For a guest on an inventory host whose driver keeps boot files there: ships them (when missing
 * or truncated) and returns the host paths its domain names; otherwise nothing (local paths).
 */
export async function ensureHostBoot(
  data: InventoryData,
  name: string,
  host: { name: string; host: Host } | undefined,
  h: Hypervisor,
  target: DomainTarget,
  say?: (line: string) => void,
): Promise<{ shipped: ShippedFile[]; paths: HostPaths } | undefined> {
  if (!host || !shipsBootFiles(host.host) || !h.bootStore) return undefined;
  const boot = (await guestBootOnHost(data, name, host.host, target)) as GuestBoot;
  return { shipped: await h.bootStore(host.host.bootDir).ship(boot.files, say), paths: boot.paths };
}
