/**
 * Debian packages as build inputs: fetch a .deb into the download cache (`apt-get download`,
 * `apt-get update` only when apt cannot find the package), extract it with `dpkg -x`, and prepare a
 * real kernel (vmlinuz + /lib/modules/KVER with modules.dep made by `depmod -b`).
 *
 * Everything lands under the cache dir (XENROOT_CACHE or /work/main/.cache style `<repo>/.cache`):
 *   debs/                    downloaded .deb files
 *   extract/<deb basename>/  one extracted tree per .deb, made atomically (temp dir + rename)
 * A second call with the same inputs finds the extracted tree and costs nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ImageError } from '../sys/errors.js';
import { withLock } from '../sys/lock.js';
import { log } from '../sys/log.js';
import { requireProgram } from '../sys/which.js';

export interface DebianKernel {
  /** Kernel release, e.g. 6.1.0-56-amd64. */
  kver: string;
  /** Path of the compressed kernel image. */
  vmlinuz: string;
  /** /lib/modules/KVER inside `root`, with modules.dep. */
  modulesDir: string;
  /** The extracted package tree (boot/, lib/modules/). */
  root: string;
}

/** The download/extract cache: $XENROOT_CACHE, else `.cache/` at the repository root. */
export function cacheDir(): string {
  const env = process.env.XENROOT_CACHE;
  if (env) return resolve(env);
  return fileURLToPath(new URL('../../.cache', import.meta.url));
}


/** Returns the .deb of `pkg` in the cache, downloading it when it is not there yet. */
export async function fetchDeb(pkg: string, cache = cacheDir()): Promise<string> {
  const debs = join(cache, 'debs');
  await mkdir(debs, { recursive: true });
  const find = async (): Promise<string | undefined> => {
    const files = (await readdir(debs)).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')).sort();
    return files.length ? join(debs, files[files.length - 1]!) : undefined;
  };
  const have = await find();
  if (have) return have;
  const aptGet = requireProgram('apt-get', 'apt');
  log().info({ pkg }, 'downloading Debian package');
  const download = () => execa(aptGet, ['download', '-q', pkg], { cwd: debs, all: true, reject: false });
  let r = await download();
  if (r.exitCode !== 0 && /Unable to locate|Can't select|No packages found|has no installation candidate/i.test(r.all ?? '')) {
    log().info({ pkg }, 'package unknown to apt: running apt-get update once');
    await execa(aptGet, ['update', '-qq'], { reject: false });
    r = await download();
  }
  const got = await find();
  if (r.exitCode !== 0 || !got) {
    throw new ImageError(`apt-get download ${pkg} failed: ${(r.all ?? '').trim().split('\n').pop() ?? ''}`, {
      hint: 'check the package name and that the Debian mirror is reachable',
    });
  }
  return got;
}

/** Extracts a .deb (dpkg -x) once into the cache and returns the tree. */
export async function extractDeb(deb: string, cache = cacheDir()): Promise<string> {
  const base = deb.split('/').pop()!.replace(/\.deb$/, '');
  const dest = join(cache, 'extract', base);
  if (existsSync(join(dest, '.xenroot-extracted'))) return dest;
  const dpkg = requireProgram('dpkg', 'dpkg');
  await mkdir(join(cache, 'extract'), { recursive: true });
  const tmp = await mkdtemp(join(cache, 'extract', `.${base}.`));
  try {
    await execa(dpkg, ['-x', deb, tmp]);
    await writeFile(join(tmp, '.xenroot-extracted'), '');
    await renameOrDiscard(tmp, dest);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw new ImageError(`dpkg -x ${deb} failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return dest;
}

/** rename(2) a finished temp dir into place; when another process won the race, keep theirs. */
async function renameOrDiscard(tmp: string, dest: string): Promise<void> {
  try {
    await rename(tmp, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') await rm(tmp, { recursive: true, force: true });
    else throw err;
  }
}

/** The versioned kernel package that the meta package depends on (bookworm: linux-image-6.1.0-NN-amd64). */
export async function resolveKernelPackage(meta = 'linux-image-amd64'): Promise<string> {
  const aptCache = requireProgram('apt-cache', 'apt');
  const depends = async () => (await execa(aptCache, ['depends', meta], { reject: false })).stdout;
  let out = await depends();
  if (!/Depends:/.test(out)) {
    await execa(requireProgram('apt-get', 'apt'), ['update', '-qq'], { reject: false });
    out = await depends();
  }
  const m = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(out);
  if (!m) throw new ImageError(`cannot tell which kernel package ${meta} depends on`, { hint: 'run apt-get update' });
  return m[1]!;
}

/**
 * A real Debian kernel, extracted and depmod'ed, cached: the second call costs one stat.
 * `pkg` defaults to what linux-image-amd64 depends on.
 */
export async function prepareKernel(opts: { pkg?: string; cache?: string } = {}): Promise<DebianKernel> {
  const cache = opts.cache ?? cacheDir();
  return withCacheLock(cache, 'kernel', () => prepareKernelLocked(opts, cache));
}

/** Serialises downloads/extractions of one kind between processes (parallel test files). */
export async function withCacheLock<T>(cache: string, name: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(cache, { recursive: true });
  const path = join(cache, `${name}.lock`);
  return withLock(
    path,
    {
      fail: (err) => new ImageError(`cannot lock the cache ${cache} (${path}): ${err.code ?? err.message}`, { cause: err, hint: 'set XENROOT_CACHE to a directory you may write' }),
      onWait: (n) => log().info({ path, holder: n?.pid }, `waiting for ${n ? `PID ${n.pid}` : 'another process'} to finish with the ${name} cache`),
    },
    fn,
  );
}

async function prepareKernelLocked(opts: { pkg?: string }, cache: string): Promise<DebianKernel> {
  const pkg = opts.pkg ?? (await cachedKernelPackage(cache)) ?? (await resolveKernelPackage());
  const root = await extractDeb(await fetchDeb(pkg, cache), cache);
  const kver = (await readdir(join(root, 'lib/modules')))[0];
  if (!kver) throw new ImageError(`${pkg} holds no /lib/modules/KVER`);
  const modulesDir = join(root, 'lib/modules', kver);
  if (!existsSync(join(modulesDir, 'modules.dep'))) {
    await execa(requireProgram('depmod', 'kmod'), ['-b', root, kver]);
  }
  return { kver, vmlinuz: join(root, 'boot', `vmlinuz-${kver}`), modulesDir, root };
}

/** A kernel .deb already in the cache (so that a warm cache never asks apt). */
async function cachedKernelPackage(cache: string): Promise<string | undefined> {
  const debs = join(cache, 'debs');
  if (!existsSync(debs)) return undefined;
  const k = (await readdir(debs)).filter((f) => /^linux-image-[0-9].*-amd64_.*\.deb$/.test(f)).sort().pop();
  return k?.split('_')[0];
}

/** Debian's busybox-static, extracted; returns the path of its static /bin/busybox. */
export async function prepareBusyboxStatic(cache = cacheDir()): Promise<string> {
  const root = await withCacheLock(cache, 'busybox', async () => extractDeb(await fetchDeb('busybox-static', cache), cache));
  for (const p of ['bin/busybox', 'usr/bin/busybox']) if (existsSync(join(root, p))) return join(root, p);
  throw new ImageError('busybox-static holds no bin/busybox');
}
