/**
 * `xenroot initrd build IMAGE --target T`, and the staging every boot needs: an image's boot files
 * where guests boot them from, BOOTDIR/IMAGE/vmlinuz-KVER (copied from the image's /boot) and
 * BOOTDIR/IMAGE/initrd-KVER-TARGET[-BUILDER].img (built; one file per builder, see bootFiles).
 * The kernel is copied only when it changed; the built-in initrd is reproducible, so rebuilding it
 * costs about a second and changes nothing when its inputs did not change; a distro-built initrd
 * is reused only when its stamp (src/initrd/stamp.ts: builder, target, kernel sha256, image
 * fingerprint, recipe, its own sha256) still holds, unless asked to rebuild.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError, InventoryError } from '../sys/errors.js';
import { copyFileAtomic } from '../sys/atomic.js';
import { buildInitrd, type BuildInitrdResult } from '../initrd/build.js';
import { imageKver } from '../initrd/builtin.js';
import { distroRecipe } from '../initrd/distro.js';
import { imageFingerprint, stampHolds, writeStamp } from '../initrd/stamp.js';
import { sha256File } from '../sys/hash.js';
import { bootFiles, requireKver } from '../inventory/paths.js';
import { requireEntry } from '../inventory/lookup.js';
import type { BootTarget, Image, InitrdBuilder, Site } from '../inventory/schema.js';
import { loadInventory } from './steps/store.js';
import { withImageSession } from '../image/session.js';
import { IMAGE_FILE_MAX_BYTES, locateInImage, openInImage } from '../image/image-file.js';
import { log } from '../sys/log.js';

export interface StagedBootFiles {
  kernel: string;
  initrd: string;
  kver: string;
  builder: InitrdBuilder;
  /** Whether the initrd was built now (false: an existing distro initrd was reused). */
  built: boolean;
  /** sha256 of the initrd and of the kernel file (what a result line names). */
  sha256: string;
  kernelSha256: string;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b).catch(() => undefined)]);
  if (!sb || sa.size !== sb.size) return false;
  const [ca, cb] = await Promise.all([readFile(a), readFile(b)]);
  return ca.equals(cb);
}

/**
 * Copies the image's kernel into the boot dir (atomically, only when it changed). `root` is where
 * the image's tree is: its directory, or the mount of a loop image file (an open session). The
 * kernel is opened within the image's root (src/image/image-file.ts): a regular file of the image,
 * never a host file a link points at; ImageError otherwise, and nothing is written.
 */
export async function stageKernel(site: Site, imageName: string, image: Image, root: string | undefined = image.root): Promise<string> {
  if (!root) throw new ImageError(`image "${imageName}" is a loop image file: its kernel can only be staged from a mount of it`, { hint: 'xenroot test and xenroot initrd build mount it themselves' });
  const kver = requireKver(imageName, image);
  const rel = `boot/vmlinuz-${kver}`;
  const dest = bootFiles(site, imageName, image, 'xen').kernel;
  if (!(await locateInImage(root, rel))) {
    throw new ImageError(`${join(root, rel)} does not exist: image "${imageName}" has no kernel ${kver}`, { hint: 'fix images.' + imageName + '.kver or install that kernel into the image' });
  }
  const { handle, size } = await openInImage(root, rel);
  try {
    if (size > IMAGE_FILE_MAX_BYTES) {
      throw new ImageError(`${join(root, rel)} is ${size} bytes: no kernel is larger than ${IMAGE_FILE_MAX_BYTES}`, { hint: `check what /${rel} of image "${imageName}" is` });
    }
    // The open file itself, by its descriptor: what was checked is what is copied.
    const src = `/proc/self/fd/${handle.fd}`;
    if (await sameContent(src, dest)) return dest;
    await copyFileAtomic(src, dest, { mkdirs: true });
  } finally {
    await handle.close();
  }
  return dest;
}

export async function stageBootFiles(
  site: Site,
  imageName: string,
  image: Image,
  target: BootTarget,
  opts: { builder?: InitrdBuilder; rebuild?: boolean; progress?: boolean; root?: string } = {},
): Promise<StagedBootFiles> {
  const kver = requireKver(imageName, image);
  const root = opts.root ?? image.root;
  if (!root) {
    // A loop image file: one read-only mount for both the kernel and the initrd.
    return withImageSession({ file: image.file as string }, { chroot: false }, (s) => stageBootFiles(site, imageName, image, target, { ...opts, root: s.root }));
  }
  log().info({ step: 'stage-kernel', image: imageName }, `staging the kernel ${kver} of ${imageName}`);
  const kernel = await stageKernel(site, imageName, image, root);
  const kernelSha256 = await sha256File(kernel);
  const builder = opts.builder ?? image.initrdBuilder ?? 'builtin';
  // Each builder has its own file (initrd-KVER-TARGET[-BUILDER].img): never one another builder made.
  const initrd = bootFiles(site, imageName, image, target, builder).initrd;
  // What made the file: reused only when builder, target, kernel, image content and recipe all hold.
  const want = {
    builder,
    target,
    kver,
    kernelSha256,
    image: builder === 'builtin' ? '' : await imageFingerprint(image.root ? { dir: root } : { file: image.file as string }, kver),
    recipe: builder === 'builtin' ? '' : await distroRecipe(builder, target),
  };
  if (builder !== 'builtin' && !opts.rebuild) {
    const held = await stampHolds(initrd, want);
    if (held) {
      log().info({ initrd, builder, sha256: held.sha256.slice(0, 12) }, `reusing the staged ${builder} initrd ${initrd}, built ${held.built} from this kernel and image (--rebuild builds it again)`);
      return { kernel, initrd, kver, builder, built: false, sha256: held.sha256, kernelSha256 };
    }
  }
  // The built-in builder reads the tree it is given; a distro builder of a loop image opens its own chroot session.
  const source = image.root || builder === 'builtin' ? { dir: root } : { file: image.file as string };
  log().info({ step: 'build-initrd', image: imageName, builder, target }, `building the ${builder} initrd of ${imageName} for ${target}`);
  const r = await buildInitrd({ source, target, builder, kver, out: initrd, progress: !!opts.progress });
  const sha256 = r.sha256;
  await writeStamp(initrd, { ...want, sha256, built: new Date().toISOString() });
  return { kernel, initrd, kver, builder, built: true, sha256, kernelSha256 };
}

export interface BuildImageInitrdOptions {
  target: BootTarget;
  kver?: string;
  builder?: InitrdBuilder;
  /** pxe: NIC driver modules to carry instead of the default list. */
  nics?: string[];
  /** builtin: further modules to carry. */
  extraModules?: string[];
  /** Output file (default: the image's staged boot dir, initrd-KVER-TARGET.img; the kernel is staged beside it). */
  out?: string;
  progress?: boolean;
}

/** Builds the initrd of an inventory image; into the staged boot dir (with the kernel) unless --out is given. */
export async function buildImageInitrd(inventoryFile: string, name: string, o: BuildImageInitrdOptions): Promise<BuildInitrdResult & { kernel: string | undefined }> {
  const inv = await loadInventory(inventoryFile);
  const image = requireEntry(inv.data, 'image', name);
  const source: { dir: string } | { file: string } = image.root ? { dir: image.root } : { file: image.file! };
  let kver = o.kver ?? image.kver;
  if (!kver && 'dir' in source) kver = await imageKver(source.dir);
  const builder = o.builder ?? image.initrdBuilder ?? 'builtin';
  const out = o.out ?? (kver ? bootFiles(inv.data.site, name, { ...image, kver }, o.target, builder).initrd : undefined);
  if (!out) throw new InventoryError(`images.${name}.kver is not set`, { hint: 'pass --kver VER or --out PATH' });
  const r = await buildInitrd({
    source,
    target: o.target,
    builder,
    out,
    ...(kver ? { kver } : {}),
    ...(o.nics ? { nics: o.nics } : {}),
    ...(o.extraModules ? { extraModules: o.extraModules } : {}),
    progress: !!o.progress,
  });
  // Into the staged boot dir: the kernel goes beside the initrd, as guests and `sync` expect it.
  let kernel: string | undefined;
  if (!o.out && kver) {
    const withKver = { ...image, kver };
    kernel = image.root
      ? await stageKernel(inv.data.site, name, withKver)
      : await withImageSession({ file: image.file as string }, { chroot: false }, (s) => stageKernel(inv.data.site, name, withKver, s.root));
    // The stamp of what made it, so that `xenroot test` and staging reuse it only for the same kernel, image and recipe.
    await writeStamp(out, {
      builder,
      target: o.target,
      kver,
      kernelSha256: await sha256File(kernel),
      image: builder === 'builtin' ? '' : await imageFingerprint(source, kver),
      recipe: builder === 'builtin' ? '' : await distroRecipe(builder, o.target, o.nics),
      sha256: r.sha256,
      built: new Date().toISOString(),
    });
  }
  return { ...r, kernel };
}
