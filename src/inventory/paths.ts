/** Where generated and staged files live, derived from the model. Pure. */
import { join } from 'node:path';
import type { Image, Site } from './schema.js';
import { InventoryError } from '../errors.js';

export type BootTarget = 'xen' | 'qemu' | 'pxe';

export function requireKver(imageName: string, image: Image): string {
  if (!image.kver)
    throw new InventoryError(`images.${imageName}.kver is not set`, {
      hint: `set it with \`xenroot image add ${imageName} ... --kver VER\` or edit the inventory`,
    });
  return image.kver;
}

/** Kernel and initrd of an image as staged on the Xen host: BOOTDIR/IMAGE/vmlinuz-KVER, initrd-KVER-TARGET.img. */
export function bootFiles(site: Site, imageName: string, image: Image, target: BootTarget): { kernel: string; initrd: string; dir: string } {
  const kver = requireKver(imageName, image);
  const dir = join(site.bootDir, imageName);
  return { dir, kernel: join(dir, `vmlinuz-${kver}`), initrd: join(dir, `initrd-${kver}-${target}.img`) };
}

/** The NFS path clients mount for an image: its `export`, else its root dir, else EXPORTROOT/IMAGE. */
export function exportPath(site: Site, imageName: string, image: Image): string {
  return image.export ?? image.root ?? join(site.exportRoot, imageName);
}

export function guestFiles(guestDir: string, name: string): { cfg: string; xml: string; qemuXml: string } {
  return { cfg: join(guestDir, `${name}.cfg`), xml: join(guestDir, `${name}.xml`), qemuXml: join(guestDir, `${name}.qemu.xml`) };
}
