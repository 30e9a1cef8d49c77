/**
 * The built-in initrd builder: a reproducible gzip'd newc cpio holding a static busybox, the
 * target's kernel modules (closed over modules.dep, in load order) and the init script of
 * templates/initrd. No chroot, no root privileges, no host data: the same inputs give the same
 * bytes.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { DependencyError, InitrdError } from '../sys/errors.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { compareKver, KVER_RE } from '../image/kver.js';
import { log } from '../sys/log.js';
import { type CpioEntry, writeCpio } from './cpio.js';
import { type BusyboxChoice, locateBusybox, HOST_BUSYBOX } from './busybox.js';
import { loadModuleIndex, moduleFile, resolveModules, type ResolvedModule } from './modules.js';
import { isImageFile, locateInImage, readImageFile } from '../image/image-file.js';
import { type Target, targetModules } from './targets.js';

export const DEFAULT_TEMPLATES_DIR = fileURLToPath(new URL('../../templates/initrd/', import.meta.url));

/** Applets linked for an image's busybox, or when the host's cannot list its own (the init script uses these). */
const FALLBACK_APPLETS = [
  'sh', 'mount', 'umount', 'mkdir', 'insmod', 'modprobe', 'ip', 'udhcpc', 'sleep', 'cat', 'tr', 'sed', 'tail',
  'ls', 'switch_root', 'setsid', 'cttyhack', 'poweroff', 'mknod', 'hostname', 'nslookup', 'ifconfig', 'chmod',
  'rm', 'sync', 'uname', 'grep', 'echo', 'test', '[',
  // the node identity step
  'cp', 'mountpoint', 'printf', 'find',
];

export interface BuiltinOptions {
  /** Root of the image (a directory or a mounted session's root). */
  imageRoot: string;
  target: Target;
  /** Kernel release; default: the only (or newest) one under imageRoot/lib/modules. */
  kver?: string;
  /** Override the modules directory (default imageRoot/lib/modules/KVER). */
  modulesDir?: string;
  /** pxe: NIC driver list instead of the default. */
  nics?: string[];
  /** Further modules to carry and load. */
  extraModules?: string[];
  /** Output file; written atomically. */
  out: string;
  /** Host busybox candidates (default: Debian busybox-static's paths). */
  hostBusybox?: string[];
  /** Directory with `init`, `cmdline.sh` and `udhcpc.script` (default: templates/initrd of xenroot). */
  templatesDir?: string;
  /** The fixed mtime of every entry (default: SOURCE_DATE_EPOCH or 0). */
  mtime?: number;
  /** Called with short progress texts. */
  onStep?: (text: string) => void;
}

export interface BuiltinResult {
  path: string;
  sha256: string;
  size: number;
  kver: string;
  modules: string[];
  builtin: string[];
  busybox: { path: string; from: 'image' | 'host' };
  ms: number;
}

/**
 * Picks the kernel release of an image: the requested one, else the only/newest one with modules.
 * Reads lib/modules within the image's root (links resolved inside it, never out); names that are
 * not kernel releases (KVER_RE: newlines, spaces, a leading dash...) are skipped.
 */
export async function imageKver(imageRoot: string, kver?: string): Promise<string> {
  const dir = join(imageRoot, 'lib/modules');
  const have: string[] = [];
  const modules = await locateInImage(imageRoot, 'lib/modules');
  if (modules?.kind === 'dir') {
    // Directories only (lib/modules also holds files such as modules.symbols.bin); in-image symlinks followed.
    for (const name of await readdir(modules.path)) {
      if (KVER_RE.test(name) && (await locateInImage(imageRoot, `lib/modules/${name}`))?.kind === 'dir') have.push(name);
    }
    have.sort(compareKver);
  }
  if (kver) {
    if (!have.includes(kver)) {
      throw new InitrdError(`kernel ${kver} has no modules in ${dir}`, { hint: have.length ? `available: ${have.join(', ')}` : 'the image holds no kernel modules' });
    }
    return kver;
  }
  const newest = have[have.length - 1];
  if (!newest) throw new InitrdError(`the image has no kernel modules under ${dir}`, { hint: 'install a kernel in the image, or pass --kver' });
  return newest;
}

/** A module's bytes, decompressed; read within the image's root (never a host file through a link). */
async function decompressModule(root: string, rel: string): Promise<Buffer> {
  const shown = `/${rel}`;
  if (!/\.ko(\.(gz|xz|zst))?$/.test(rel)) throw new InitrdError(`module ${shown} has an unknown compression`, { hint: 'supported: .ko, .ko.gz, .ko.xz, .ko.zst' });
  const data = await readImageFile(root, rel);
  if (rel.endsWith('.ko')) return data;
  if (rel.endsWith('.ko.gz')) return gunzipSync(data);
  const [tool, pkg] = rel.endsWith('.ko.xz') ? ['xz', 'xz-utils'] : ['zstd', 'zstd'];
  try {
    // The compressed bytes go in on stdin: the tool never opens a path of the image.
    const r = await execa(tool, ['-dc'], { input: data, encoding: 'buffer', stripFinalNewline: false });
    return Buffer.from(r.stdout);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new DependencyError(`${tool} is needed to decompress ${shown}`, { hint: `install the Debian package ${pkg}` });
    }
    throw new InitrdError(`cannot decompress module ${shown}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** The archive path of a module: its path with any compression suffix dropped (stored decompressed). */
function storedPath(mod: ResolvedModule): string {
  return mod.path.replace(/\.ko\.(xz|zst|gz)$/, '.ko');
}

/**
 * The applets to link. An image's busybox is never run on the host (it is data, and could be
 * anything): it gets the fixed list the init needs. The host's busybox-static lists its own.
 */
async function busyboxApplets(busybox: BusyboxChoice): Promise<string[]> {
  if (busybox.from === 'image') return FALLBACK_APPLETS;
  try {
    const r = await execa(busybox.path, ['--list'], { timeout: 10_000 });
    const list = r.stdout.split('\n').map((s) => s.trim()).filter((s) => /^[a-z0-9_.[-]+$/i.test(s) && s !== 'busybox');
    if (list.includes('sh') && list.includes('switch_root')) return list;
  } catch {
    // A busybox for another architecture cannot run here: link the applets the init needs.
  }
  return FALLBACK_APPLETS;
}

/** Builds the cpio entries (exported for tests and for `ls`-style inspection). */
export async function builtinEntries(opts: BuiltinOptions): Promise<{ entries: CpioEntry[]; info: Omit<BuiltinResult, 'path' | 'sha256' | 'size' | 'ms'> }> {
  const step = opts.onStep ?? (() => undefined);
  const kver = opts.modulesDir ? (opts.kver ?? (opts.modulesDir.split('/').filter(Boolean).pop() as string)) : await imageKver(opts.imageRoot, opts.kver);
  const modulesDir = opts.modulesDir ?? join(opts.imageRoot, 'lib/modules', kver);
  step('resolving modules');
  // Everything below is read within the image's root (or within an explicit modules dir).
  const index = await loadModuleIndex(modulesDir, opts.modulesDir ? modulesDir : opts.imageRoot);
  const indexRoot = index.root ?? modulesDir;
  const { modules, builtin } = resolveModules(index, targetModules(opts.target, { nics: opts.nics, extra: opts.extraModules }));
  step('locating busybox');
  const busybox = await locateBusybox(opts.imageRoot, opts.hostBusybox ?? HOST_BUSYBOX);
  const templatesDir = opts.templatesDir ?? DEFAULT_TEMPLATES_DIR;
  const readTemplate = async (name: string) => {
    const p = join(templatesDir, name);
    if (!existsSync(p)) throw new InitrdError(`template ${p} is missing`, { hint: 'restore templates/initrd from xenroot' });
    return readFile(p);
  };

  const entries: CpioEntry[] = [];
  for (const d of ['bin', 'dev', 'etc', 'etc/xenroot', 'lib', 'lib/modules', 'newroot', 'proc', 'run', 'sbin', 'sys', 'tmp', 'usr', 'usr/bin', 'usr/sbin']) {
    entries.push({ type: 'dir', path: d, mode: d === 'tmp' ? 0o1777 : 0o755 });
  }
  entries.push({ type: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 });
  entries.push({ type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
  entries.push({ type: 'file', path: 'bin/busybox', data: busybox.data, mode: 0o755 });
  for (const a of await busyboxApplets(busybox)) {
    if (a.includes('/')) continue;
    entries.push({ type: 'symlink', path: `bin/${a}`, target: 'busybox' });
  }
  entries.push({ type: 'file', path: 'init', data: await readTemplate('init'), mode: 0o755 });
  entries.push({ type: 'file', path: 'etc/xenroot/udhcpc.script', data: await readTemplate('udhcpc.script'), mode: 0o755 });
  // The command line reader is a library the init sources: a templates dir that replaces only the
  // init (a test probe) keeps xenroot's own reader.
  const cmdlineReader = existsSync(join(templatesDir, 'cmdline.sh')) ? readTemplate('cmdline.sh') : readFile(join(DEFAULT_TEMPLATES_DIR, 'cmdline.sh'));
  entries.push({ type: 'file', path: 'etc/xenroot/cmdline.sh', data: await cmdlineReader, mode: 0o644 });
  entries.push({ type: 'file', path: 'etc/xenroot/target', data: Buffer.from(`${opts.target}\n`), mode: 0o644 });

  step(`adding ${modules.length} modules`);
  const base = `lib/modules/${kver}`;
  const depLines: string[] = [];
  const stored = new Map(modules.map((m) => [m.name, storedPath(m)]));
  for (const m of modules) {
    entries.push({ type: 'file', path: `${base}/${stored.get(m.name)}`, data: await decompressModule(indexRoot, moduleFile(index, m.path)), mode: 0o644 });
    const deps = (index.deps.get(m.name) ?? []).map((d) => stored.get(d)).filter((d): d is string => d !== undefined);
    depLines.push(`${stored.get(m.name)}:${deps.length ? ' ' + deps.join(' ') : ''}`);
  }
  entries.push({ type: 'file', path: `${base}/modules.dep`, data: Buffer.from(depLines.join('\n') + '\n') });
  // modules.builtin lets `initrd ls` (and busybox modprobe) tell built-in modules from missing ones.
  if (await isImageFile(indexRoot, moduleFile(index, 'modules.builtin'))) {
    entries.push({ type: 'file', path: `${base}/modules.builtin`, data: await readImageFile(indexRoot, moduleFile(index, 'modules.builtin')) });
  }
  entries.push({
    type: 'file',
    path: 'etc/xenroot/modules',
    data: Buffer.from(modules.map((m) => `${m.name} ${stored.get(m.name)}\n`).join('')),
  });
  return { entries, info: { kver, modules: modules.map((m) => m.name), builtin, busybox: { path: busybox.path, from: busybox.from } } };
}

/** Builds the initrd file; returns its sha256, size and what went in. */
export async function buildBuiltinInitrd(opts: BuiltinOptions): Promise<BuiltinResult> {
  const t0 = performance.now();
  if (!existsSync(opts.imageRoot) || !(await stat(opts.imageRoot)).isDirectory()) {
    throw new InitrdError(`image root ${opts.imageRoot} is not a directory`, { hint: 'pass the root of an image directory or a mounted image' });
  }
  const { entries, info } = await builtinEntries(opts);
  const mtime = opts.mtime ?? (process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : 0);
  opts.onStep?.('writing cpio');
  const cpio = writeCpio(entries, mtime);
  // Level 6: level 9 costs ten times the time for 0.3% less size.
  const gz = gzipSync(cpio, { level: 6 });
  await writeFileAtomic(opts.out, gz, { mode: 0o644, mkdirs: true });
  const sha256 = createHash('sha256').update(gz).digest('hex');
  const ms = Math.round(performance.now() - t0);
  log().debug({ out: opts.out, size: gz.length, modules: info.modules.length, ms }, 'built-in initrd written');
  return { path: opts.out, sha256, size: gz.length, ms, ...info };
}
