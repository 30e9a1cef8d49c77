/** Where generated and staged files live, derived from the model. Pure (reads no file). */
import { dirname, join, resolve } from 'node:path';
import type { BootTarget, Image, InitrdBuilder, InventoryData, Site } from './schema.js';
import { InventoryError } from '../sys/errors.js';
import { findEntry } from './lookup.js';

/**
 * A path given on the command line, made absolute against the working directory and normalised
 * (node's path.resolve). A ".." segment after a named directory is refused: where it leads
 * depends on links on the way, so the lexical result could name another directory than the one
 * the kernel would open. Leading ".." of a relative path are exact (the working directory is
 * the physical one) and allowed. InventoryError (exit 3, as the same path in the file) naming the
 * flag and the value: `--root "/srv/a/../etc" has a ".." segment ...`.
 */
export function flagPath(flag: string, raw: string): string {
  const segs = raw.split('/');
  const firstNamed = segs.findIndex((s) => s !== '..' && s !== '.' && s !== '');
  if (raw.startsWith('/') ? segs.includes('..') : firstNamed >= 0 && segs.slice(firstNamed).includes('..'))
    throw new InventoryError(`${flag} ${JSON.stringify(raw)} has a ".." segment after a directory: give the directory itself`, { hint: 'a link on the way would take ".." elsewhere than it reads' });
  return resolve(raw);
}

export function requireKver(imageName: string, image: Image): string {
  if (!image.kver)
    throw new InventoryError(`images.${imageName}.kver is not set`, {
      hint: `set it with \`xenroot image add ${imageName} ... --kver VER\` or edit the inventory`,
    });
  return image.kver;
}

/**
 * Kernel and initrd of an image as staged on the Xen host: BOOTDIR/IMAGE/vmlinuz-KVER and
 * initrd-KVER-TARGET.img (built-in builder) or initrd-KVER-TARGET-BUILDER.img (a distro builder):
 * two builders never share a file. `builder` defaults to the image's initrdBuilder, else builtin.
 */
export function bootFiles(
  site: Site,
  imageName: string,
  image: Image,
  target: BootTarget,
  builder: InitrdBuilder = image.initrdBuilder ?? 'builtin',
): { kernel: string; initrd: string; dir: string } {
  const kver = requireKver(imageName, image);
  const dir = join(site.bootDir, imageName);
  const initrd = builder === 'builtin' ? `initrd-${kver}-${target}.img` : `initrd-${kver}-${target}-${builder}.img`;
  return { dir, kernel: join(dir, `vmlinuz-${kver}`), initrd: join(dir, initrd) };
}

/** The NFS path clients mount for an image: its `export`, else its root dir, else EXPORTROOT/IMAGE. */
export function exportPath(site: Site, imageName: string, image: Image): string {
  return image.export ?? image.root ?? join(site.exportRoot, imageName);
}

import { DEFAULT_INVENTORY } from './state-path.js';

export { DEFAULT_INVENTORY };

/** The inventory file: `--inventory PATH`, else $XENROOT_INVENTORY, else /etc/xenroot/inventory.yaml. */
export function inventoryPath(flag?: string): string {
  return resolve(flag ?? process.env.XENROOT_INVENTORY ?? DEFAULT_INVENTORY);
}

/** The site's directory of guest files: site.guestDir (relative to the inventory's directory), else guests/ beside it. */
export function siteGuestDir(data: InventoryData, inventoryFile: string): string {
  return resolve(dirname(inventoryFile), data.site.guestDir ?? 'guests');
}

/**
 * The one recorded home of a guest's generated files: its `configDir` (from `create --out`), else
 * the site's guest directory. Every write, regeneration (MAC pin, sync) and removal uses it.
 */
export function guestFiles(data: InventoryData, inventoryFile: string, name: string): { dir: string; cfg: string; xml: string } {
  const dir = findEntry(data, 'guest', name)?.configDir ?? siteGuestDir(data, inventoryFile);
  return { dir, cfg: join(dir, `${name}.cfg`), xml: join(dir, `${name}.xml`) };
}

// The state directory's path lives in state-path.ts (the schema's export rules read it without a cycle).
export { stateDir } from './state-path.js';

/**
 * A node's image as the renderers see it: `IMAGE` (its working directory), or `IMAGE@REV` when it
 * boots a published revision. The `@` keeps the two apart: image names cannot hold it.
 */
export function imageRef(image: string, revision?: number): string {
  return revision === undefined ? image : `${image}@${revision}`;
}

/** `IMAGE@REV` into its parts; undefined for a plain image name. */
export function parseImageRef(ref: string): { image: string; revision: number } | undefined {
  const m = /^([^@]+)@([1-9]\d{0,8})$/.exec(ref);
  return m ? { image: m[1]!, revision: Number(m[2]) } : undefined;
}

/** Where the revisions of an image are kept: SITE.revisions.dir (default EXPORTROOT/revisions), then IMAGE. */
export function revisionStore(site: Site, imageName: string): string {
  return join(site.revisions.dir ?? join(site.exportRoot, 'revisions'), imageName);
}

/** The tree of one revision (read-only once published): STORE/REV. */
export function revisionRoot(site: Site, imageName: string, revision: number): string {
  return join(revisionStore(site, imageName), String(revision));
}

/** The NFS path the nodes of a revision mount: SITE.revisions.export (default: the store's base) /IMAGE/REV. */
export function revisionExport(site: Site, imageName: string, revision: number): string {
  const base = site.revisions.export ?? site.revisions.dir ?? join(site.exportRoot, 'revisions');
  return join(base, imageName, String(revision));
}

/** The boot service's ADDR:PORT: site.serve.listen, else the NFS server's address on port 8080. */
export function serveListen(site: Site): string {
  return site.serve?.listen ?? `${site.nfsServer}:8080`;
}

/**
 * Where iPXE fetches boot files over HTTP: site.pxe.httpBase, else the boot service's /boot when
 * site.serve is on, else nowhere (TFTP).
 */
export function bootHttpBase(site: Site): string | undefined {
  return site.pxe.httpBase ?? (site.serve ? `http://${serveListen(site)}/boot` : undefined);
}
