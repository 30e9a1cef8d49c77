/**
 * The distributions' own initrd builders, with xen-netfront and NFS root support added through
 * their command lines or a temporary config dir, never by editing the image's config:
 *  - dracut (--no-hostonly, network + nfs modules, --add-drivers with the target's NIC drivers),
 *    in the image's chroot, or on the host with --kmoddir when the image has no dracut;
 *  - initramfs-tools (mkinitramfs -d TMPCONF: MODULES=netboot plus xen-netfront, and BOOT=xenroot with
 *    xenroot's boot script templates/initramfs-tools/xenroot, since stock initramfs-tools mounts NFS
 *    with klibc's nfsmount, which cannot do NFSv4; the script reads the built-in initrd's root forms);
 *  - legacy mkinitrd (--rootfs nfs, --with=xen-netfront).
 * The image's own tool never runs on the host nor in a plain chroot: it runs in a sandbox
 * (src/image/sandbox.ts: own mount, PID and network namespaces, fresh /proc, no capabilities, the
 * image read-only); it writes to a host work dir bound into it, and its output is read back as
 * image data (a regular file inside that dir, never through a link).
 */
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DependencyError, InitrdError } from '../sys/errors.js';
import { copyFileAtomic } from '../sys/atomic.js';
import { interruptSignal } from '../sys/lifetime.js';
import { makeTempDir } from '../sys/tmp.js';
import { log } from '../sys/log.js';
import { which } from '../sys/which.js';
import type { InitrdBuilder } from '../inventory/schema.js';
import { isImageFile, locateInImage, openInImage } from '../image/image-file.js';
import { runInSandbox, SANDBOX_WORK } from '../image/sandbox.js';
import { nicModules, NFS_MODULES, type Target } from './targets.js';

export type DistroBuilder = Exclude<InitrdBuilder, 'builtin'>;

export interface DistroOptions {
  builder: DistroBuilder;
  /** The image root on the host (a directory image, or the root of a read-only mount of an image file). */
  root: string;
  /** Run the image's own tool (in the sandbox); dracut without it runs on the host with --kmoddir. */
  inImage?: boolean;
  kver: string;
  target: Target;
  nics?: string[];
  out: string;
  /** dracut only: where to run (default: in the image's sandbox when it has dracut and inImage, else host). */
  dracutMode?: 'chroot' | 'host' | 'auto';
  /** dracut: false gives an uncompressed initrd (faster to build; for tests). Default: dracut's default. */
  compress?: boolean;
  /** mkinitrd: the root device it records (SERVER:/PATH); default "nfs". */
  nfsRoot?: string;
  onStep?: (text: string) => void;
}

export interface DistroResult {
  path: string;
  size: number;
  ms: number;
  builder: DistroBuilder;
  mode: 'chroot' | 'host';
}

const TOOL_PATHS: Record<DistroBuilder, string[]> = {
  dracut: ['usr/bin/dracut', 'usr/sbin/dracut', 'sbin/dracut', 'bin/dracut'],
  'initramfs-tools': ['usr/sbin/mkinitramfs', 'sbin/mkinitramfs', 'usr/bin/mkinitramfs'],
  mkinitrd: ['sbin/mkinitrd', 'usr/sbin/mkinitrd', 'usr/bin/mkinitrd'],
};

/** The tool's path inside the image ('/usr/bin/dracut'), or undefined (looked up within the image's root). */
export async function imageTool(root: string, builder: DistroBuilder): Promise<string | undefined> {
  for (const p of TOOL_PATHS[builder]) if ((await locateInImage(root, p))?.kind === 'file') return `/${p}`;
  return undefined;
}

/** Drivers a distro initrd must carry: the target's NICs, xen-netfront always for xen. */
export function distroDrivers(target: Target, nics?: string[]): string[] {
  const list = nicModules(target, nics).map((m) => m.replace(/_/g, '-'));
  if (target === 'xen' && !list.includes('xen-netfront')) list.unshift('xen-netfront');
  return list;
}

/** dracut's arguments (pure; exported for tests). */
export function dracutArgs(o: { kver: string; target: Target; nics?: string[]; out: string; kmoddir?: string; tmpdir?: string; compress?: boolean; overlayHook?: string }): string[] {
  const args = [
    '--force', '--no-hostonly', '--no-hostonly-cmdline', '--no-early-microcode', '--quiet',
    '--kver', o.kver,
    '-m', 'base network-legacy nfs',
    '--add-drivers', [...distroDrivers(o.target, o.nics), 'nfsv3', 'nfsv4', 'overlay'].join(' '),
  ];
  // overlay-root cannot be named with -m on the host (its check() looks at the host's modules):
  // its pre-pivot hook goes in as a file; it acts only with `rootovl` on the command line.
  if (o.overlayHook) args.push('--include', o.overlayHook, '/lib/dracut/hooks/pre-pivot/10-overlay-mount.sh');
  if (o.kmoddir) args.push('--kmoddir', o.kmoddir);
  if (o.tmpdir) args.push('--tmpdir', o.tmpdir);
  if (o.compress === false) args.push('--no-compress');
  args.push(o.out, o.kver);
  return args;
}

/** initramfs-tools config for an NFS root (pure): BOOT=xenroot runs xenroot's boot script (scripts/xenroot). */
export function initramfsToolsConfig(target: Target, nics?: string[]): { conf: string; modules: string } {
  return {
    conf: ['# written by xenroot for one build; the image\'s /etc/initramfs-tools is untouched', 'MODULES=netboot', 'BUSYBOX=auto', 'COMPRESS=gzip', 'BOOT=xenroot', 'DEVICE=', 'NFSROOT=auto', 'RUNSIZE=10%', ''].join('\n'),
    modules: [...distroDrivers(target, nics), ...NFS_MODULES, 'overlay', ''].join('\n'),
  };
}

const TEMPLATES = fileURLToPath(new URL('../../templates/', import.meta.url));

/** The scripts xenroot adds to an initramfs-tools build: CONFDIR/scripts/NAME -> their text. */
export async function initramfsToolsScripts(): Promise<Record<string, string>> {
  return {
    xenroot: await readFile(join(TEMPLATES, 'initramfs-tools/xenroot'), 'utf8'),
    'xenroot-cmdline': await readFile(join(TEMPLATES, 'initrd/cmdline.sh'), 'utf8'),
  };
}

/** dracut's overlay-root pre-pivot hook (tmpfs upper over the NFS root with `rootovl`), where dracut runs. */
export const DRACUT_OVERLAY_HOOK = 'usr/lib/dracut/modules.d/90overlay-root/overlay-mount.sh';

/**
 * A hash of xenroot's recipe for a distro builder: its arguments, config and scripts, and for dracut
 * on the host the host's dracut version. A staged initrd made by another recipe is not reused.
 */
export async function distroRecipe(builder: DistroBuilder, target: Target, nics?: string[]): Promise<string> {
  const h = createHash('sha256').update(builder).update(target);
  if (builder === 'dracut') {
    h.update(dracutArgs({ kver: 'KVER', target, nics, out: 'OUT' }).join(' '));
    h.update(await readFile('/usr/lib/dracut/dracut-version.sh', 'utf8').catch(() => 'no host dracut'));
  } else if (builder === 'initramfs-tools') {
    const c = initramfsToolsConfig(target, nics);
    h.update(c.conf).update(c.modules);
    for (const [name, text] of Object.entries(await initramfsToolsScripts())) h.update(name).update(text);
  } else {
    h.update(mkinitrdArgs({ kver: 'KVER', target, nics, out: 'OUT' }).join(' '));
  }
  return h.digest('hex');
}

/** legacy mkinitrd's arguments (pure). */
export function mkinitrdArgs(o: { kver: string; target: Target; nics?: string[]; out: string; nfsRoot?: string }): string[] {
  const withs = [...distroDrivers(o.target, o.nics), 'nfs', 'nfsv3', 'nfsv4'].map((m) => `--with=${m}`);
  return ['-f', '--rootfs=nfs', `--rootdev=${o.nfsRoot ?? 'nfs'}`, ...withs, o.out, o.kver];
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

export async function buildDistroInitrd(o: DistroOptions): Promise<DistroResult> {
  const t0 = performance.now();
  const step = o.onStep ?? (() => undefined);
  const tool = await imageTool(o.root, o.builder);
  let mode: 'chroot' | 'host';
  if (o.builder === 'dracut') {
    const want = o.dracutMode ?? 'auto';
    if (want === 'chroot' || (want === 'auto' && tool && o.inImage)) mode = 'chroot';
    else mode = 'host';
    if (mode === 'host' && !which('dracut')) {
      throw new DependencyError(tool ? 'dracut on the host is needed without a chroot session' : 'the image has no dracut and the host has none either', {
        hint: 'install the Debian packages dracut and dracut-network, or install dracut in the image',
      });
    }
  } else {
    mode = 'chroot';
  }
  if (mode === 'chroot') {
    if (!tool) {
      const names = { dracut: 'dracut', 'initramfs-tools': 'mkinitramfs (initramfs-tools)', mkinitrd: 'mkinitrd' } as const;
      throw new InitrdError(`the image at ${o.root} has no ${names[o.builder]}`, {
        hint: o.builder === 'dracut' ? 'install dracut on the host (it is used with --kmoddir) or in the image' : 'use --builder builtin or a builder the image has',
      });
    }
  }
  // Resolved within the image (its /lib is often a link to usr/lib): host dracut's --kmoddir is the image's own.
  const modules = await locateInImage(o.root, `lib/modules/${o.kver}`);
  if (modules?.kind !== 'dir') throw new InitrdError(`kernel ${o.kver} has no modules in ${join(o.root, 'lib/modules', o.kver)}`);
  const modulesDir = modules.path;
  if (mode === 'host') {
    step('dracut on the host');
    const workDir = await makeTempDir('xenroot-dracut-');
    const work = workDir.path;
    try {
      const tmpOut = join(work, 'initrd.img');
      // Ends with this process's interrupt: SIGTERM, SIGKILL 3 s later (execa's escalation).
      const hook = `/${DRACUT_OVERLAY_HOOK}`;
      const r = await execa('dracut', dracutArgs({ kver: o.kver, target: o.target, nics: o.nics, out: tmpOut, kmoddir: modulesDir, tmpdir: work, compress: o.compress, ...(existsSync(hook) ? { overlayHook: hook } : {}) }), {
        all: true,
        reject: false,
        cancelSignal: interruptSignal(),
        forceKillAfterDelay: 3_000,
      });
      if (r.isCanceled) throw interruptSignal().reason;
      if (r.exitCode !== 0 || !existsSync(tmpOut)) throw new InitrdError(`dracut failed (exit ${r.exitCode}): ${tail(r.all ?? '')}`);
      await copyFileAtomic(tmpOut, o.out, { mkdirs: true });
    } finally {
      await workDir.remove();
    }
  } else {
    // The tool writes only here (bound at SANDBOX_WORK in the sandbox); the image stays read-only.
    const workDir = await makeTempDir('xenroot-initrd-');
    const hostSide = workDir.path;
    const inside = SANDBOX_WORK;
    const run = (args: string[], env: Record<string, string> = {}) => runInSandbox({ root: o.root, work: hostSide, env }, tool!, args);
    try {
      const outInside = `${inside}/initrd.img`;
      let r;
      if (o.builder === 'dracut') {
        step('dracut in the image');
        const hook = (await isImageFile(o.root, DRACUT_OVERLAY_HOOK)) ? { overlayHook: `/${DRACUT_OVERLAY_HOOK}` } : {};
        // No capabilities in the sandbox: dracut is told not to make device nodes or copy xattrs (as in a container).
        r = await run(dracutArgs({ kver: o.kver, target: o.target, nics: o.nics, out: outInside, tmpdir: inside, compress: o.compress, ...hook }), { DRACUT_NO_MKNOD: '1', DRACUT_NO_XATTR: '1' });
      } else if (o.builder === 'initramfs-tools') {
        step('mkinitramfs in the image');
        const conf = initramfsToolsConfig(o.target, o.nics);
        await mkdir(join(hostSide, 'conf/conf.d'), { recursive: true });
        await mkdir(join(hostSide, 'conf/scripts'), { recursive: true });
        await mkdir(join(hostSide, 'conf/hooks'), { recursive: true });
        await writeFile(join(hostSide, 'conf/initramfs.conf'), conf.conf);
        await writeFile(join(hostSide, 'conf/modules'), conf.modules);
        for (const [name, text] of Object.entries(await initramfsToolsScripts())) await writeFile(join(hostSide, 'conf/scripts', name), text);
        r = await run(['-d', `${inside}/conf`, '-o', outInside, o.kver], { TMPDIR: inside });
      } else {
        step('mkinitrd in the image');
        r = await run(mkinitrdArgs({ kver: o.kver, target: o.target, nics: o.nics, out: outInside, nfsRoot: o.nfsRoot }), { TMPDIR: inside });
      }
      if (r.exitCode !== 0 || !(await locateInImage(hostSide, 'initrd.img'))) {
        throw new InitrdError(`${o.builder} failed in the image (exit ${r.exitCode}): ${tail(`${r.stdout}\n${r.stderr}`)}`);
      }
      // What the sandbox wrote is image data: a regular file inside the work dir, copied by its descriptor.
      const { handle } = await openInImage(hostSide, 'initrd.img');
      try {
        await copyFileAtomic(`/proc/self/fd/${handle.fd}`, o.out, { mkdirs: true });
      } finally {
        await handle.close();
      }
    } finally {
      await workDir.remove();
    }
  }
  const size = (await stat(o.out)).size;
  const ms = Math.round(performance.now() - t0);
  log().debug({ builder: o.builder, mode, size, ms }, 'distro initrd written');
  return { path: o.out, size, ms, builder: o.builder, mode };
}
