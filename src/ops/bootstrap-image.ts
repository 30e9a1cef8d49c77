/**
 * `xenroot image bootstrap NAME --suite bookworm [--packages a,b] [--builder B] [--root-password PW |
 * --autologin] [--dir DIR] [--mirror URL]`: makes a real Debian root directory with mmdebstrap,
 * ready for an NFS root (src/image/bootstrap.ts says what that takes), and registers it as an
 * image (root DIR, the kernel it installed, the initrd builder). The default directory is
 * EXPORTROOT/NAME, where the site's images are exported from.
 */
import { join, resolve } from 'node:path';
import { InventoryError } from '../sys/errors.js';
import { bootstrapImage } from '../image/bootstrap.js';
import { createProgress } from '../initrd/progress.js';
import { findEntry } from '../inventory/lookup.js';
import { checkEntryName, FIELDS, flagValue, type Image, type InitrdBuilder } from '../inventory/schema.js';
import { loadInventory } from './steps/store.js';
import { addImage } from './images.js';

export interface BootstrapImageOptions {
  /** Debian suite (default bookworm). */
  suite?: string;
  packages?: string[];
  /** The image's initrd builder (default: builtin). */
  builder?: InitrdBuilder;
  rootPassword?: string;
  autologin?: boolean;
  /** Where the image goes (default EXPORTROOT/NAME). */
  dir?: string;
  mirror?: string;
  /** Host name of the image (default: NAME). */
  hostname?: string;
  progress?: boolean;
}

export interface BootstrapImageResult {
  name: string;
  dir: string;
  suite: string;
  kver: string;
  builder: InitrdBuilder;
  packages: string[];
  ms: number;
  warnings: string[];
  image: Image;
}

const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]+$/;

export async function bootstrapImageCmd(inventoryFile: string, name: string, o: BootstrapImageOptions = {}): Promise<BootstrapImageResult> {
  checkEntryName('image', name);
  const inv = await loadInventory(inventoryFile);
  if (findEntry(inv.data, 'image', name)) throw new InventoryError(`image "${name}" exists already`, { hint: '`xenroot image show NAME` prints it; choose another name' });
  const builder = o.builder === undefined ? 'builtin' : flagValue(FIELDS.images.initrdBuilder.unwrap(), '--builder', o.builder);
  for (const p of o.packages ?? []) if (!PACKAGE_RE.test(p)) throw new InventoryError(`--packages "${p}" is not a Debian package name`, { hint: 'lower-case letters, digits, "+", "-", "."' });
  if (o.rootPassword !== undefined && o.autologin) throw new InventoryError('give a root password or --autologin, not both');
  const dir = resolve(o.dir ?? join(inv.data.site.exportRoot, name));
  const suite = o.suite ?? 'bookworm';
  const hostname = (o.hostname ?? name).toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'xenroot';
  const progress = o.progress === false ? undefined : createProgress(`image bootstrap ${name}`);
  try {
    const r = await bootstrapImage({
      dir,
      suite,
      hostname,
      ...(o.packages ? { packages: o.packages } : {}),
      ...(o.mirror ? { mirror: o.mirror } : {}),
      ...(o.rootPassword !== undefined ? { rootPassword: o.rootPassword } : {}),
      autologin: !!o.autologin,
      onStep: (t) => progress?.step(t),
    });
    progress?.done(`${dir}, kernel ${r.kver}`);
    const added = await addImage(inventoryFile, { name, root: dir, kver: r.kver, ...(builder !== 'builtin' ? { initrdBuilder: builder } : {}) });
    return { name, dir, suite, kver: r.kver, builder, packages: r.packages, ms: r.ms, warnings: r.warnings, image: added.image };
  } catch (err) {
    progress?.fail((err as Error).message);
    throw err;
  }
}
