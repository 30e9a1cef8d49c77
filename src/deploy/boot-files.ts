/**
 * Staging an image's boot files where guests boot them from: BOOTDIR/IMAGE/vmlinuz-KVER (copied
 * from the image's /boot) and BOOTDIR/IMAGE/initrd-KVER-TARGET.img (built). The kernel is copied
 * only when it changed; the built-in initrd is reproducible, so rebuilding it costs about a second
 * and changes nothing when its inputs did not change; a distro-built initrd is reused unless asked.
 */
import { copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError } from '../errors.js';
import { buildInitrd, type Builder } from '../initrd/build.js';
import type { Target } from '../initrd/targets.js';
import { bootFiles, requireKver } from '../inventory/paths.js';
import type { Image, Site } from '../inventory/schema.js';
import { log } from '../log.js';

export interface StagedBootFiles {
  kernel: string;
  initrd: string;
  kver: string;
  builder: Builder;
  /** Whether the initrd was built now (false: an existing distro initrd was reused). */
  built: boolean;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b).catch(() => undefined)]);
  if (!sb || sa.size !== sb.size) return false;
  const [ca, cb] = await Promise.all([readFile(a), readFile(b)]);
  return ca.equals(cb);
}

/** Copies the image's kernel into the boot dir (atomically, only when it changed). */
export async function stageKernel(site: Site, imageName: string, image: Image): Promise<string> {
  if (!image.root) throw new ImageError(`image "${imageName}" is a loop image file; stage its kernel with \`xenroot initrd build\` after mounting, or use a directory image`);
  const kver = requireKver(imageName, image);
  const src = join(image.root, 'boot', `vmlinuz-${kver}`);
  const dest = bootFiles(site, imageName, image, 'xen').kernel;
  await stat(src).catch(() => {
    throw new ImageError(`${src} does not exist: image "${imageName}" has no kernel ${kver}`, { hint: 'fix images.' + imageName + '.kver or install that kernel into the image' });
  });
  if (await sameContent(src, dest)) return dest;
  await mkdir(join(site.bootDir, imageName), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  await copyFile(src, tmp);
  await rename(tmp, dest);
  return dest;
}

export async function stageBootFiles(
  site: Site,
  imageName: string,
  image: Image,
  target: Target,
  opts: { builder?: Builder; rebuild?: boolean; progress?: boolean } = {},
): Promise<StagedBootFiles> {
  const kver = requireKver(imageName, image);
  const kernel = await stageKernel(site, imageName, image);
  const initrd = bootFiles(site, imageName, image, target).initrd;
  const builder = opts.builder ?? image.initrdBuilder ?? 'builtin';
  const exists = await stat(initrd).then(() => true, () => false);
  if (builder !== 'builtin' && exists && !opts.rebuild) {
    log().info({ initrd }, 'reusing the staged initrd (--rebuild builds it again)');
    return { kernel, initrd, kver, builder, built: false };
  }
  const source = image.root ? { dir: image.root } : { file: image.file as string };
  await buildInitrd({ source, target, builder, kver, out: initrd, progress: !!opts.progress });
  return { kernel, initrd, kver, builder, built: true };
}
