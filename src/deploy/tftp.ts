/**
 * What the TFTP tree is made from: pxelinux.0 and ldlinux.c32 of the host's syslinux packages,
 * and each image's kernel and pxe-target initrd, staged under versioned names
 * (images/IMAGE/vmlinuz-KVER-HASH): replacing an image adds new files and never changes one a
 * client may be downloading. Hashes are cached by (size, mtime, inode) so a re-sync reads nothing.
 */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { DependencyError, DeployError } from '../sys/errors.js';
import type { InventoryData } from '../inventory/schema.js';
import { bootFiles } from '../inventory/paths.js';
import { clientImages } from '../inventory/effective.js';
import type { HashCache } from './manifest.js';
import type { PlanInput, StagedImage } from './plan.js';
import { sha256File } from '../sys/hash.js';

export const SYSLINUX_PATHS = {
  pxelinux0: ['/usr/lib/PXELINUX/pxelinux.0', '/usr/lib/syslinux/pxelinux.0', '/usr/share/syslinux/pxelinux.0'],
  ldlinux: ['/usr/lib/syslinux/modules/bios/ldlinux.c32', '/usr/lib/syslinux/ldlinux.c32', '/usr/share/syslinux/ldlinux.c32'],
};

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  return stat(p).catch(() => undefined);
}

/** Finds pxelinux.0 and ldlinux.c32; a DependencyError names the Debian packages when missing. */
export async function findSyslinux(paths: { pxelinux0: string[]; ldlinux: string[] } = SYSLINUX_PATHS): Promise<PlanInput['syslinux']> {
  const find = async (list: string[]) => {
    for (const p of list) {
      const st = await statOrUndefined(p);
      if (st?.isFile()) return { path: p, size: st.size };
    }
    return undefined;
  };
  const pxe = await find(paths.pxelinux0);
  const ld = await find(paths.ldlinux);
  if (!pxe || !ld) {
    const missing = [!pxe ? `pxelinux.0 (looked at ${paths.pxelinux0.join(', ')})` : '', !ld ? `ldlinux.c32 (looked at ${paths.ldlinux.join(', ')})` : ''].filter(Boolean);
    throw new DependencyError(`${missing.join(' and ')} not found on this host`, { hint: 'install the Debian packages pxelinux and syslinux-common (apt-get install pxelinux syslinux-common)' });
  }
  return { pxelinux0: pxe.path, pxelinux0Size: pxe.size, ldlinux: ld.path, ldlinuxSize: ld.size };
}

/** The sha256 of `path`, from `cache` when size, mtime and inode are unchanged; updates `cache`. */
export async function hashSource(path: string, st: Stats, cache: HashCache): Promise<string> {
  const c = cache[path];
  if (c && c.size === st.size && c.mtimeMs === st.mtimeMs && c.ino === st.ino) return c.sha256;
  const sha256 = await sha256File(path);
  cache[path] = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, sha256 };
  return sha256;
}

/**
 * Stages every image that has a kernel and a pxe initrd in its boot dir. An image a client boots
 * must have both (DeployError naming the missing file); others are skipped with a warning.
 * With `root` (--root DIR) a boot file is read under DIR where it is there (a publish or rollout
 * under DIR staged it there), else at its own path.
 */
export async function stageImages(data: InventoryData, cache: HashCache, root?: string): Promise<{ staged: Map<string, StagedImage>; warnings: string[] }> {
  const staged = new Map<string, StagedImage>();
  const warnings: string[] = [];
  const used = clientImages(data);
  for (const [name, image] of Object.entries(data.images).sort(([a], [b]) => a.localeCompare(b))) {
    if (!image.kver) {
      if (used.has(name)) bootFiles(data.site, name, image, 'pxe'); // throws the InventoryError naming kver
      warnings.push(`image ${name}: no kver, not staged for PXE`);
      continue;
    }
    const files = bootFiles(data.site, name, image, 'pxe');
    if (root) for (const k of ['kernel', 'initrd'] as const) if ((await statOrUndefined(join(root, files[k])))?.isFile()) files[k] = join(root, files[k]);
    const [kst, ist] = await Promise.all([statOrUndefined(files.kernel), statOrUndefined(files.initrd)]);
    const missing = !kst?.isFile() ? files.kernel : !ist?.isFile() ? files.initrd : undefined;
    if (missing) {
      if (used.has(name))
        throw new DeployError(`image ${name}: ${missing} does not exist, so its PXE clients cannot boot`, {
          hint: `stage the kernel as ${files.kernel} and build the pxe initrd as ${files.initrd} (xenroot initrd build ${name} --target pxe)`,
        });
      warnings.push(`image ${name}: ${missing} does not exist, not staged for PXE`);
      continue;
    }
    const [kh, ih] = await Promise.all([hashSource(files.kernel, kst!, cache), hashSource(files.initrd, ist!, cache)]);
    staged.set(name, {
      kernelSource: files.kernel,
      kernelSize: kst!.size,
      initrdSource: files.initrd,
      initrdSize: ist!.size,
      kernel: `images/${name}/vmlinuz-${image.kver}-${kh.slice(0, 12)}`,
      initrd: `images/${name}/initrd-${image.kver}-pxe-${ih.slice(0, 12)}.img`,
    });
  }
  return { staged, warnings };
}

/** One loader file of the TFTP root: where it goes (relative), where it comes from on this host. */
export interface LoaderFile {
  /** Path in the TFTP root (syslinux.efi must sit in the root, beside pxelinux.cfg/). */
  name: string;
  source: string;
  size: number;
}

/**
 * Where Debian's packages put the UEFI loaders (x86-64): syslinux.efi + ldlinux.e64
 * (syslinux-efi), snponly.efi (ipxe), the Microsoft-signed shim (shim-signed) and Debian's signed
 * GRUB network image (grub-efi-amd64-signed), served as grubx64.efi, the name shim loads.
 */
export const EFI_LOADER_PATHS: Record<'syslinux' | 'ipxe' | 'grub', { name: string; paths: string[]; pkg: string }[]> = {
  syslinux: [
    { name: 'syslinux.efi', paths: ['/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi'], pkg: 'syslinux-efi' },
    { name: 'ldlinux.e64', paths: ['/usr/lib/syslinux/modules/efi64/ldlinux.e64'], pkg: 'syslinux-efi' },
  ],
  ipxe: [{ name: 'snponly.efi', paths: ['/usr/lib/ipxe/snponly.efi'], pkg: 'ipxe' }],
  grub: [
    { name: 'shimx64.efi', paths: ['/usr/lib/shim/shimx64.efi.signed'], pkg: 'shim-signed' },
    { name: 'grubx64.efi', paths: ['/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'], pkg: 'grub-efi-amd64-signed' },
  ],
};

/**
 * The files of the site's UEFI loader (none for `none`); a DependencyError names the Debian
 * packages of the missing ones.
 */
export async function findEfiLoader(loader: 'syslinux' | 'ipxe' | 'grub' | 'none', table = EFI_LOADER_PATHS): Promise<LoaderFile[]> {
  if (loader === 'none') return [];
  const found: LoaderFile[] = [];
  const missing: { name: string; paths: string[]; pkg: string }[] = [];
  for (const want of table[loader]) {
    let hit: LoaderFile | undefined;
    for (const p of want.paths) {
      const st = await statOrUndefined(p);
      if (st?.isFile()) {
        hit = { name: want.name, source: p, size: st.size };
        break;
      }
    }
    if (hit) found.push(hit);
    else missing.push(want);
  }
  if (missing.length) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new DependencyError(`${missing.map((m) => `${m.name} (looked at ${m.paths.join(', ')})`).join(' and ')} not found on this host: UEFI clients need it (site.pxe.efiLoader: ${loader})`, {
      hint: `install the Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')} (apt-get install ${pkgs.join(' ')}), or set site.pxe.efiLoader to none`,
    });
  }
  return found;
}
