/**
 * One entry point for every initrd build: picks the builder, opens a mount session of the image
 * only when one is needed (file images: a read-only mount), and always
 * unwinds it (the session does, also on SIGINT/SIGTERM).
 *
 *   builtin + directory image        no session, no root needed
 *   builtin + loop image file        read-only session without chroot mounts
 *   dracut, image without dracut     host dracut with --kmoddir (directory, or a read-only session)
 *   dracut/initramfs-tools/mkinitrd  the image's tool in a sandbox over the image (read-only;
 *                                    src/image/sandbox.ts), never on the host
 */
import { existsSync } from 'node:fs';
import { InitrdError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { type ImageSource, withImageSession } from '../image/session.js';
import type { InitrdBuilder } from '../inventory/schema.js';
import { buildBuiltinInitrd, imageKver } from './builtin.js';
import { buildDistroInitrd, imageTool } from './distro.js';
import { listInitrd, type InitrdListing } from './ls.js';
import { createProgress } from './progress.js';
import { sha256File } from '../sys/hash.js';
import type { Target } from './targets.js';

export type Builder = InitrdBuilder;


export interface BuildInitrdOptions {
  source: ImageSource;
  target: Target;
  builder?: Builder;
  kver?: string;
  nics?: string[];
  /** builtin: further modules to carry (loaded at boot, or on demand with xenroot.modules=). */
  extraModules?: string[];
  out: string;
  /** Show a progress line on a TTY (default true). */
  progress?: boolean;
}

export interface BuildInitrdResult {
  path: string;
  builder: Builder;
  target: Target;
  kver: string;
  size: number;
  ms: number;
  sha256: string;
  /** What `initrd ls` says of the result. */
  xennet: boolean;
  nfs: boolean;
  modules: number;
}

async function verify(path: string, target: Target, builder: Builder): Promise<InitrdListing> {
  const l = await listInitrd(path);
  if (builder === 'dracut' && !l.members.some((m) => m.path.endsWith('nfs-lib.sh'))) {
    throw new InitrdError(`the dracut initrd ${path} has no NFS root support (dracut's nfs module was left out)`, {
      hint: 'dracut needs mount.nfs where it runs: install nfs-common (in the image, or on the host for host mode)',
    });
  }
  if (builder === 'initramfs-tools' && !l.members.some((m) => /(^|\/)scripts\/xenroot$/.test(m.path))) {
    throw new InitrdError(`the initramfs-tools initrd ${path} has no scripts/xenroot: it could not mount an NFSv4 root`, { hint: 'mkinitramfs -d did not take xenroot\'s config dir; check the image\'s initramfs-tools' });
  }
  if (target === 'xen' && !l.xennet.present) {
    throw new InitrdError(`the initrd ${path} has no xen-netfront (xennet): a Xen guest could not reach its NFS root`, {
      hint: 'build with --builder builtin, or check the image kernel has xen-netfront.ko',
    });
  }
  if (!l.nfs.present) throw new InitrdError(`the initrd ${path} has no NFS client support`, { hint: 'the image kernel needs nfs.ko / nfsv4.ko' });
  return l;
}

export async function buildInitrd(o: BuildInitrdOptions): Promise<BuildInitrdResult> {
  const builder = o.builder ?? 'builtin';
  const progress = o.progress === false ? undefined : createProgress(`initrd ${builder} ${o.target}`);
  const onStep = (t: string): void => {
    log().debug({ step: t }, t);
    progress?.step(t);
  };
  try {
    const run = async (root: string, inImage = false) => {
      const kver = await imageKver(root, o.kver);
      if (builder === 'builtin') {
        const r = await buildBuiltinInitrd({ imageRoot: root, target: o.target, kver, nics: o.nics, extraModules: o.extraModules, out: o.out, onStep });
        return { path: r.path, kver, size: r.size, ms: r.ms, sha256: r.sha256 };
      }
      const r = await buildDistroInitrd({ builder, root, inImage, kver, target: o.target, nics: o.nics, out: o.out, onStep });
      return { path: r.path, kver, size: r.size, ms: r.ms };
    };
    if ('dir' in o.source && (builder === 'initramfs-tools' || builder === 'mkinitrd') && !(await imageTool(o.source.dir, builder))) {
      throw new InitrdError(`the image ${o.source.dir} has no ${builder === 'mkinitrd' ? 'mkinitrd' : 'mkinitramfs (initramfs-tools)'}`, {
        hint: 'use --builder builtin (or dracut, which can run on the host) or a builder the image has',
      });
    }
    let r;
    if ('dir' in o.source) {
      if (!existsSync(o.source.dir)) throw new InitrdError(`image directory ${o.source.dir} does not exist`);
      // A directory is read as it is; a distro tool of the image runs in a sandbox over it (read-only).
      r = await run(o.source.dir, builder !== 'builtin' && !!(await imageTool(o.source.dir, builder)));
    } else {
      onStep('mounting the image');
      // A file image: one read-only mount, no chroot mounts (the sandbox makes its own /proc and /dev).
      r = await withImageSession(o.source, { chroot: false }, async (s) => run(s.root, builder !== 'builtin' && !!(await imageTool(s.root, builder))));
    }
    onStep('checking the result');
    const l = await verify(r.path, o.target, builder);
    progress?.done(`${r.path} (${(r.size / 1e6).toFixed(1)} MB)`);
    const sha256 = r.sha256 ?? (await sha256File(r.path));
    return { ...r, sha256, builder, target: o.target, xennet: l.xennet.present, nfs: l.nfs.present, modules: l.modules.length };
  } catch (err) {
    progress?.fail((err as Error).message);
    throw err;
  }
}

