/**
 * What made a staged initrd: its builder, target, kernel (release and sha256 of the kernel file),
 * the image content it was built from (a fingerprint of the files a distro builder reads) and the
 * recipe (xenroot's arguments, config and scripts for that builder). Kept beside the initrd as
 * `.INITRD.stamp` (JSON); a staged initrd is reused only when all of it still holds and the file is
 * the one the stamp describes (its sha256), so a test never boots an initrd another builder, kernel
 * or image made.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../sys/atomic.js';
import type { InitrdBuilder } from '../inventory/schema.js';
import type { Target } from './targets.js';
import { sha256File } from '../sys/hash.js';

export interface InitrdStamp {
  builder: InitrdBuilder;
  target: Target;
  kver: string;
  /** sha256 of the kernel file the initrd goes with. */
  kernelSha256: string;
  /** Fingerprint of the image content the builder reads (see imageFingerprint). */
  image: string;
  /** Hash of xenroot's recipe for the builder (arguments, config, scripts). */
  recipe: string;
  /** sha256 of the initrd file. */
  sha256: string;
  /** ISO time of the build. */
  built: string;
}

/** The stamp file of an initrd: DIR/.NAME.stamp (hidden: nothing that lists initrds takes it for one). */
export function stampPath(initrd: string): string {
  return join(dirname(initrd), `.${basename(initrd)}.stamp`);
}

export async function readStamp(initrd: string): Promise<InitrdStamp | undefined> {
  try {
    return JSON.parse(await readFile(stampPath(initrd), 'utf8')) as InitrdStamp;
  } catch {
    return undefined;
  }
}

export async function writeStamp(initrd: string, stamp: InitrdStamp): Promise<void> {
  await writeFileAtomic(stampPath(initrd), JSON.stringify(stamp, null, 2) + '\n', { mkdirs: true });
}

/** Paths (relative to the image root) whose content decides what a distro builder puts in an initrd. */
const IMAGE_INPUTS = (kver: string): string[] => [
  `lib/modules/${kver}/modules.dep`,
  `lib/modules/${kver}/modules.builtin`,
  `boot/config-${kver}`,
  'var/lib/dpkg/status',
  'etc/initramfs-tools',
  'etc/initramfs-tools/initramfs.conf',
  'etc/initramfs-tools/modules',
  'etc/initramfs-tools/conf.d',
  'etc/initramfs-tools/hooks',
  'etc/initramfs-tools/scripts',
  'etc/dracut.conf',
  'etc/dracut.conf.d',
  'usr/share/initramfs-tools',
  'usr/lib/dracut',
  'bin/busybox',
  'usr/bin/busybox',
];

/**
 * A cheap fingerprint of the image content a distro builder reads: size and mtime of its inputs
 * (modules.dep, the kernel config, dpkg's status, the builders' config and script directories, and
 * each entry of those directories), or of the loop image file itself. Changes whenever a package,
 * a module or the builder's config in the image changes; costs a few dozen stat calls.
 */
export async function imageFingerprint(source: { dir: string } | { file: string }, kver: string): Promise<string> {
  const h = createHash('sha256').update(kver);
  if ('file' in source) {
    const st = await stat(source.file);
    return h.update(`file ${source.file} ${st.size} ${st.mtimeMs}`).digest('hex');
  }
  for (const rel of IMAGE_INPUTS(kver)) {
    const p = join(source.dir, rel);
    const st = await stat(p).catch(() => undefined);
    h.update(`${rel} ${st ? `${st.size} ${st.mtimeMs}` : '-'}\n`);
    if (st?.isDirectory()) {
      for (const name of (await readdir(p)).sort()) {
        const s2 = await stat(join(p, name)).catch(() => undefined);
        h.update(`  ${name} ${s2 ? `${s2.size} ${s2.mtimeMs}` : '-'}\n`);
      }
    }
  }
  return h.digest('hex');
}

/** Whether a staged initrd can be reused for `want` (everything that made it is the same, and the file is the stamped one). */
export async function stampHolds(initrd: string, want: Omit<InitrdStamp, 'sha256' | 'built'>): Promise<InitrdStamp | undefined> {
  if (!existsSync(initrd)) return undefined;
  const s = await readStamp(initrd);
  if (!s) return undefined;
  for (const k of ['builder', 'target', 'kver', 'kernelSha256', 'image', 'recipe'] as const) if (s[k] !== want[k]) return undefined;
  if ((await sha256File(initrd)) !== s.sha256) return undefined;
  return s;
}
