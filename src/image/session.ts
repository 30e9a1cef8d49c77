/**
 * Image mount sessions: the HOWTO's "loop-mount the image, mount tmp/dev/var/lock/proc/sys, chroot"
 * as one function that always unwinds.
 *
 *   withImageSession({ file: 'terminal.img' }, {}, async (s) => s.run('/sbin/dracut', [...]))
 *
 * Steps, in order (each one registers its undo before anything else can fail):
 *   mkdtemp        private directory /tmp/xenroot-session-XXXXXX for the mount points
 *   loop-attach    file images only: `losetup -r -f --show FILE` (a new device for every session)
 *   mount-image    file: `mount -o ro LOOP`; dir: `mount --bind DIR` + remount ro; then make-private
 *   overlay-tmpfs  with { overlay: true }: a tmpfs for the upper layer
 *   overlay-mount  with { overlay: true }: overlayfs (image lower, tmpfs upper): writable, discarded
 *   mount-tmp      tmpfs on tmp
 *   mount-dev      tmpfs on dev
 *   populate-dev   null zero full random urandom tty, fd/std* links, pts and shm dirs (no host /dev bind)
 *   mount-var-lock tmpfs on var/lock (resolved inside the image; skipped if the image has none)
 *   mount-proc     proc
 *   mount-sys      sysfs, read-only
 * Unwinding runs the undos in reverse order on success, on any error and on an interrupt: the
 * session is one entry of the cleanup registry (src/sys/lifetime.ts), so the signal policy
 * unwinds it (killing its chroot commands first), and the session then throws InterruptedError
 * (the CLI exits 130). Directory images are never written to; writes go to
 * the overlay's tmpfs, or, for a file image opened with { remountable: true }, happen inside
 * `withWritable()` (a short rw remount).
 * Chroot commands run in their own process group; before unmounting, the group and any process
 * whose root is inside the image (a daemon a command left behind) are killed. A process killed
 * with SIGKILL cannot unwind: `sweepStaleSessions()` later unwinds the sessions of dead owners
 * (the session dir records owner PID + start time and the loop device).
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ImageError, InterruptedError, isXenrootError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { interruptSignal, interrupted, onCleanup } from '../sys/lifetime.js';
import { processStart, processesRootedIn } from '../sys/proc.js';
import { attachLoop, detachLoop, listLoops } from './loop.js';
import { mount, mountsUnder, resolveInRoot, unmountIfMounted } from './mounts.js';

export type ImageSource = { dir: string } | { file: string };

export const SESSION_STEPS = [
  'mkdtemp',
  'loop-attach',
  'mount-image',
  'overlay-tmpfs',
  'overlay-mount',
  'mount-tmp',
  'mount-dev',
  'populate-dev',
  'mount-var-lock',
  'mount-proc',
  'mount-sys',
] as const;
export type SessionStep = (typeof SESSION_STEPS)[number];

export interface SessionOptions {
  /** Mount tmp, dev, var/lock, proc and sys for chroot use (default true). */
  chroot?: boolean;
  /** Put a tmpfs overlay over the image: the root is writable, every write is discarded at the end. */
  overlay?: boolean;
  /** File images only: attach the loop device read-write (still mounted ro) so withWritable() can remount rw. */
  remountable?: boolean;
  /** Where the private mount directory is made (default os.tmpdir()). */
  tmpRoot?: string;
  /**
   * Test hook: called before every step and again after its work is done; a throw there is an
   * injected failure of that step (before: nothing of it done yet; after: all of it done).
   */
  faultHook?: (step: SessionStep, phase: 'before' | 'after') => void | Promise<void>;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string>;
  /** Resolve with the exit code instead of throwing when the command fails. */
  reject?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ImageSession {
  readonly source: ImageSource;
  /** The host path of the image's root (the chroot directory). */
  readonly root: string;
  /** The loop device of a file image. */
  readonly loopDevice: string | undefined;
  /** True when writes to root are possible (overlay). */
  readonly overlay: boolean;
  /** Aborted when an interrupt arrives or the session closes. */
  readonly signal: AbortSignal;
  /** Runs a command inside the image with chroot(8); killed if the session is interrupted. */
  run(file: string, args?: string[], options?: RunOptions): Promise<RunResult>;
  /** Runs fn while the image is writable: a short rw remount (file, remountable) or the overlay. */
  withWritable<T>(fn: () => Promise<T>): Promise<T>;
}

const OWNER_FILE = 'owner.json';
const OWNER_LOOP_FILE = 'loop';

const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface Undo {
  step: string;
  undo: () => Promise<void>;
}

function describe(source: ImageSource): string {
  return 'file' in source ? source.file : source.dir;
}

async function checkSource(source: ImageSource): Promise<ImageSource> {
  const isFile = 'file' in source;
  const path = resolve(isFile ? source.file : source.dir);
  let st;
  try {
    st = await lstat(path);
  } catch {
    throw new ImageError(`image ${isFile ? 'file' : 'directory'} ${path} does not exist`, {
      hint: isFile ? 'give a loop image file such as terminal.img' : 'give the image root directory',
    });
  }
  if (isFile && !st.isFile()) throw new ImageError(`image file ${path} is not a regular file`, { hint: 'use { dir } for a directory image' });
  if (!isFile && !st.isDirectory()) throw new ImageError(`image directory ${path} is not a directory`, { hint: 'use { file } for a loop image file' });
  return isFile ? { file: path } : { dir: path };
}

/**
 * Opens a mount session on an image, runs fn with it, and always unwinds. Resolves with fn's
 * result; rejects with fn's error, an ImageError naming the failed step and path, or
 * InterruptedError after SIGINT/SIGTERM.
 */
export async function withImageSession<T>(
  sourceIn: ImageSource,
  options: SessionOptions,
  fn: (session: ImageSession) => Promise<T>,
): Promise<T> {
  const source = await checkSource(sourceIn);
  const what = describe(source);
  const chroot = options.chroot ?? true;
  const overlay = options.overlay ?? false;
  const remountable = 'file' in source && (options.remountable ?? false);
  const undos: Undo[] = [];
  const children = new Set<ResultPromise>();
  const ac = new AbortController();
  let closed = false;

  const onInterrupt = (): void => {
    const sig = interrupted() ?? 'SIGINT';
    log().warn({ image: what, signal: sig }, 'interrupted: unwinding image session');
    ac.abort(new InterruptedError(`interrupted by ${sig} during the image session on ${what}`));
  };
  if (interruptSignal().aborted) throw interruptSignal().reason;
  interruptSignal().addEventListener('abort', onInterrupt, { once: true });
  const aborted = new Promise<never>((_res, rej) => {
    ac.signal.addEventListener('abort', () => rej(ac.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);

  const step = async (name: SessionStep, path: string, body: () => Promise<void>): Promise<void> => {
    if (ac.signal.aborted) throw ac.signal.reason;
    try {
      await options.faultHook?.(name, 'before');
      await body();
      await options.faultHook?.(name, 'after');
    } catch (err) {
      if (isXenrootError(err)) throw err;
      throw new ImageError(`${name} failed for ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const pushUndo = (stepName: string, undo: () => Promise<void>): void => {
    undos.push({ step: stepName, undo });
  };
  const mountStep = async (name: SessionStep, target: string, args: string[]): Promise<void> => {
    await step(name, target, async () => {
      pushUndo(name, () => unmountIfMounted(target));
      await mount(name, args, target);
    });
  };
  const mkdirOwned = async (stepName: string, dir: string): Promise<void> => {
    await mkdir(dir);
    pushUndo(stepName, async () => {
      await rmdir(dir).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    });
  };

  let base = '';
  let imageMount = '';
  let root = '';
  let loopDevice: string | undefined;
  let result: T | undefined;
  let failure: unknown;
  let failed = false;
  // One entry of the cleanup registry: the owner unwinds at the end; the signal policy, on an interrupt.
  let unwindErrors: unknown[] = [];
  const cleanup = onCleanup(`image session on ${what}`, async () => {
    unwindErrors = await unwind(undos, children, root);
  });

  try {
    await step('mkdtemp', options.tmpRoot ?? tmpdir(), async () => {
      base = await mkdtemp(join(options.tmpRoot ?? tmpdir(), 'xenroot-session-'));
      pushUndo('mkdtemp', () => rmdir(base));
      const ownerFile = join(base, OWNER_FILE);
      await writeFile(ownerFile, JSON.stringify({ pid: process.pid, start: processStart(process.pid), source: what }));
      pushUndo('mkdtemp', () => rm(ownerFile, { force: true }));
    });
    imageMount = join(base, 'image');
    root = imageMount;

    if ('file' in source) {
      await step('loop-attach', source.file, async () => {
        const dev = await attachLoop(source.file, !remountable);
        loopDevice = dev;
        await writeFile(join(base, OWNER_LOOP_FILE), `${dev} ${source.file}\n`);
        pushUndo('loop-attach', () => rm(join(base, OWNER_LOOP_FILE), { force: true }));
        pushUndo('loop-attach', () => detachLoop(dev));
      });
    }

    await step('mount-image', what, async () => {
      await mkdirOwned('mount-image', imageMount);
      pushUndo('mount-image', () => unmountIfMounted(imageMount));
      if ('file' in source) {
        try {
          await mount('mount-image', ['-o', 'ro', loopDevice as string], imageMount);
        } catch (err) {
          // An ext3/4 image whose journal needs recovery (it was not unmounted cleanly) cannot be
          // mounted from a read-only device; without replaying the journal it can.
          if (remountable || !/read-only/.test((err as Error).message)) throw err;
          log().warn({ image: what }, 'the image journal needs recovery: mounting without replaying it (noload); unmount the image cleanly where it is written');
          await mount('mount-image', ['-o', 'ro,noload', loopDevice as string], imageMount);
        }
      } else {
        await mount('mount-image', ['--bind', source.dir], imageMount);
        await mount('mount-image', ['-o', 'remount,bind,ro'], imageMount);
      }
      // Nothing mounted below the session's root may propagate back to the image or its peers.
      await mount('mount-image', ['--make-private'], imageMount);
    });

    if (overlay) {
      const rw = join(base, 'rw');
      await step('overlay-tmpfs', rw, async () => {
        await mkdirOwned('overlay-tmpfs', rw);
        pushUndo('overlay-tmpfs', () => unmountIfMounted(rw));
        await mount('overlay-tmpfs', ['-t', 'tmpfs', '-o', 'mode=755', 'xenroot-overlay'], rw);
        await mkdir(join(rw, 'upper'));
        await mkdir(join(rw, 'work'));
      });
      root = join(base, 'root');
      const merged = root;
      await step('overlay-mount', merged, async () => {
        await mkdirOwned('overlay-mount', merged);
        pushUndo('overlay-mount', () => unmountIfMounted(merged));
        await mount(
          'overlay-mount',
          ['-t', 'overlay', '-o', `lowerdir=${imageMount},upperdir=${join(rw, 'upper')},workdir=${join(rw, 'work')}`, 'xenroot-overlay'],
          merged,
        );
        await mount('overlay-mount', ['--make-private'], merged);
      });
    }

    if (chroot) {
      const mountPoint = async (name: SessionStep, rel: string, required: boolean): Promise<string | undefined> => {
        const r = await resolveInRoot(root, rel);
        if (r.exists) return r.path;
        if (overlay) {
          await mkdir(r.path, { recursive: true });
          return r.path;
        }
        if (!required) {
          log().debug({ image: what, path: `/${rel}` }, `${name}: skipped, not in the image`);
          return undefined;
        }
        throw new ImageError(`${name}: mount point /${rel} does not exist in the read-only image ${what}`, {
          hint: 'create the directory in the image, or open the session with { overlay: true }',
        });
      };
      const tmp = await mountPoint('mount-tmp', 'tmp', true);
      if (tmp) await mountStep('mount-tmp', tmp, ['-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', 'xenroot-tmp']);
      const dev = await mountPoint('mount-dev', 'dev', true);
      if (dev) {
        await mountStep('mount-dev', dev, ['-t', 'tmpfs', '-o', 'mode=755,nosuid,size=1m', 'xenroot-dev']);
        await step('populate-dev', dev, () => populateDev(dev));
      }
      const lock = await mountPoint('mount-var-lock', 'var/lock', false);
      if (lock) await mountStep('mount-var-lock', lock, ['-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', 'xenroot-lock']);
      const proc = await mountPoint('mount-proc', 'proc', true);
      if (proc) await mountStep('mount-proc', proc, ['-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc']);
      const sys = await mountPoint('mount-sys', 'sys', true);
      if (sys) await mountStep('mount-sys', sys, ['-t', 'sysfs', '-o', 'ro,nosuid,nodev,noexec', 'sysfs']);
    }
    log().debug({ image: what, root, loopDevice }, 'image session open');

    const sessionRoot = root;
    const session: ImageSession = {
      source,
      root: sessionRoot,
      loopDevice,
      overlay,
      signal: ac.signal,
      async run(file, args = [], runOptions = {}) {
        if (closed) throw new ImageError(`chroot ${file}: the image session on ${what} is closed`);
        if (ac.signal.aborted) throw ac.signal.reason;
        // Its own process group, so that an interrupt kills the command's children too.
        const child = execa('chroot', [sessionRoot, file, ...args], {
          detached: true,
          reject: false,
          extendEnv: false,
          env: { PATH: CHROOT_PATH, HOME: '/root', LANG: 'C.UTF-8', ...runOptions.env },
          cwd: '/',
          ...(runOptions.input === undefined ? { stdin: 'ignore' as const } : { input: runOptions.input }),
        });
        children.add(child);
        let escalate: NodeJS.Timeout | undefined;
        const onAbort = (): void => {
          killGroup(child.pid, 'SIGTERM');
          escalate = setTimeout(() => killGroup(child.pid, 'SIGKILL'), 3000);
        };
        ac.signal.addEventListener('abort', onAbort, { once: true });
        let r;
        try {
          r = await child;
        } finally {
          ac.signal.removeEventListener('abort', onAbort);
          if (escalate) clearTimeout(escalate);
          children.delete(child);
        }
        if (r.isCanceled || ac.signal.aborted) throw ac.signal.reason ?? new InterruptedError(`chroot ${file} was cancelled`);
        const out = { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
        if (out.exitCode !== 0 && runOptions.reject !== false) {
          const tail = out.stderr.trim().split('\n').slice(-3).join(' | ');
          throw new ImageError(`chroot ${sessionRoot} ${[file, ...args].join(' ')} failed (exit ${out.exitCode}${r.signal ? `, ${r.signal}` : ''}): ${tail}`);
        }
        return out;
      },
      async withWritable<R>(body: () => Promise<R>): Promise<R> {
        if (overlay) return body();
        if ('dir' in source) {
          throw new ImageError(`a directory image is never written to: ${what}`, { hint: 'open the session with { overlay: true } to write to a discarded layer' });
        }
        if (!remountable) {
          throw new ImageError(`image ${what} was opened read-only`, { hint: 'open the session with { remountable: true } (or { overlay: true })' });
        }
        await mount('remount-rw', ['-o', 'remount,rw'], imageMount);
        try {
          return await body();
        } finally {
          await mount('remount-ro', ['-o', 'remount,ro'], imageMount);
        }
      },
    };
    result = await Promise.race([fn(session), aborted]);
  } catch (err) {
    failed = true;
    failure = err;
  } finally {
    closed = true;
    await cleanup.run();
    // What a step still in flight when an interrupt unwound the session added afterwards.
    if (undos.length) unwindErrors.push(...(await unwind(undos, children, root)));
    interruptSignal().removeEventListener('abort', onInterrupt);
    if (!ac.signal.aborted) ac.abort(new ImageError(`the image session on ${what} is closed`));
    if (unwindErrors.length) {
      const msg = unwindErrors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
      log().error({ image: what, errors: msg }, 'image session did not unwind cleanly');
      if (!failed) {
        failed = true;
        failure = new ImageError(`unwinding the image session on ${what} failed: ${msg}`, {
          hint: 'check /proc/self/mountinfo and losetup -a for what is left',
        });
      }
    }
  }
  const interruptedBy = interrupted();
  if (interruptedBy) {
    throw failure instanceof InterruptedError
      ? failure
      : new InterruptedError(`interrupted by ${interruptedBy} during the image session on ${what}; unwound`, { cause: failure });
  }
  if (failed) throw failure;
  return result as T;
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // the group is gone
  }
}

async function unwind(undos: Undo[], children: Set<ResultPromise>, root: string): Promise<unknown[]> {
  const errors: unknown[] = [];
  for (const child of children) killGroup(child.pid, 'SIGKILL');
  if (root) {
    // Anything still running inside the image (a daemon a command started) would keep it busy.
    for (let round = 0; round < 50; round++) {
      const left = processesRootedIn(root);
      if (!left.length) break;
      if (round === 0) log().warn({ root, pids: left }, 'killing processes still running in the image');
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  for (const child of children) await Promise.resolve(child).catch(() => undefined);
  // Drains the list newest first, so a later call undoes only what was added since (a step that
  // finished after an interrupt had already unwound the session).
  for (let u = undos.pop(); u; u = undos.pop()) {
    try {
      await u.undo();
    } catch (err) {
      errors.push(err instanceof Error ? new Error(`${u.step}: ${err.message}`) : err);
    }
  }
  return errors;
}

const DEV_NODES: [name: string, major: number, minor: number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

async function populateDev(dev: string): Promise<void> {
  for (const [name, major, minor] of DEV_NODES) {
    await execa('mknod', ['-m', '666', join(dev, name), 'c', String(major), String(minor)], { stdin: 'ignore' });
  }
  await symlink('/proc/self/fd', join(dev, 'fd'));
  await symlink('/proc/self/fd/0', join(dev, 'stdin'));
  await symlink('/proc/self/fd/1', join(dev, 'stdout'));
  await symlink('/proc/self/fd/2', join(dev, 'stderr'));
  await mkdir(join(dev, 'pts'));
  await mkdir(join(dev, 'shm'), { mode: 0o1777 });
}

export interface SweepResult {
  /** Session directories whose owner had died, now unwound and removed. */
  swept: string[];
  /** Directories that could not be unwound fully (still mounted or busy). */
  failed: string[];
}

/**
 * Unwinds the sessions of processes that died without unwinding (SIGKILL, power loss of the
 * process, OOM kill): every `xenroot-session-*` directory under `tmpRoot` whose owner process is
 * gone has its mounts unmounted deepest first, its loop device detached (only if it still backs
 * the same file) and its directories removed. Sessions of live processes are left alone.
 */
export async function sweepStaleSessions(tmpRoot: string = tmpdir()): Promise<SweepResult> {
  const result: SweepResult = { swept: [], failed: [] };
  let names: string[];
  try {
    names = (await readdir(tmpRoot)).filter((n) => n.startsWith('xenroot-session-'));
  } catch {
    return result;
  }
  for (const name of names) {
    const base = join(tmpRoot, name);
    let owner: { pid?: number; start?: string };
    try {
      owner = JSON.parse(await readFile(join(base, OWNER_FILE), 'utf8')) as { pid?: number; start?: string };
    } catch {
      continue; // not ours, or a session still being set up
    }
    if (typeof owner.pid === 'number' && processStart(owner.pid) === owner.start && owner.start !== undefined) continue;
    try {
      for (const m of await mountsUnder(base)) await unmountIfMounted(m.mountPoint);
      const loop = await readFile(join(base, OWNER_LOOP_FILE), 'utf8').catch(() => '');
      const [dev, ...file] = loop.trim().split(' ');
      if (dev && (await listLoops()).some((l) => l.name === dev && l.backingFile === file.join(' '))) await detachLoop(dev);
      for (const d of ['root', 'image', 'rw']) await rmdir(join(base, d)).catch(() => undefined);
      await rm(join(base, OWNER_FILE), { force: true });
      await rm(join(base, OWNER_LOOP_FILE), { force: true });
      await rmdir(base);
      log().info({ dir: base, owner: owner.pid }, 'unwound a stale image session');
      result.swept.push(base);
    } catch (err) {
      log().warn({ dir: base, err: err instanceof Error ? err.message : String(err) }, 'could not unwind a stale image session');
      result.failed.push(base);
    }
  }
  return result;
}
