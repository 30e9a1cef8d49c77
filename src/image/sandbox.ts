/**
 * Runs a program of an image (a distribution's initrd builder) in a sandbox that cannot reach the
 * host, with bubblewrap (Debian package bubblewrap):
 *
 *   bwrap --ro-bind ROOT / --proc /proc --remount-ro /proc --dev /dev --tmpfs /tmp --bind WORK /tmp/xenroot-work
 *         --unshare-pid --unshare-net --unshare-ipc --unshare-uts --unshare-cgroup-try
 *         --cap-drop ALL --die-with-parent --new-session --clearenv ... -- FILE ARGS
 *
 * Own mount, PID, network (loopback only), IPC and UTS namespaces; the image is read-only; /proc
 * is a fresh, read-only one of the new PID namespace (no host process is visible, no kernel setting
 * under /proc/sys can be written), /dev holds only the basic
 * nodes, /sys is absent; it runs as uid 0 without any capability and with no_new_privs (no mount,
 * no mknod, no chroot escape, no setuid gain); the one writable host path is WORK, a directory
 * the caller made for this run. Whatever the program leaves in WORK is data again: read it back
 * with src/image/image-file.ts (regular files only, never through a link).
 */
import { execa } from 'execa';
import { DependencyError, ImageError } from '../sys/errors.js';
import { interruptSignal } from '../sys/lifetime.js';
import { which } from '../sys/which.js';
import { locateInImage } from './image-file.js';

/** Where the caller's work directory appears inside the sandbox. */
export const SANDBOX_WORK = '/tmp/xenroot-work';

const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface SandboxOptions {
  /** The image's root on the host (a directory image, or the mount of an image file). */
  root: string;
  /** Host directory bound read-write at SANDBOX_WORK; made by the caller for this run. */
  work: string;
  /** Extra environment (PATH, HOME=/root and LANG=C.UTF-8 are set; nothing of the host's is passed). */
  env?: Record<string, string>;
}

export interface SandboxResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * bwrap's arguments for running `file` of the image (checks that the image has /tmp, and whether
 * it has /var/tmp, as real directories).
 */
async function sandboxArgs(o: SandboxOptions, file: string, args: string[]): Promise<string[]> {
  const env = { PATH: SANDBOX_PATH, HOME: '/root', LANG: 'C.UTF-8', ...o.env };
  const out = [
    '--ro-bind', o.root, '/',
    '--proc', '/proc',
    // Read-only: uid 0 needs no capability to write the kernel's global settings under /proc/sys.
    '--remount-ro', '/proc',
    '--dev', '/dev',
  ];
  if ((await locateInImage(o.root, 'tmp'))?.kind !== 'dir') {
    throw new ImageError(`the image ${o.root} has no /tmp directory: its tools cannot run without one`, { hint: 'create /tmp in the image' });
  }
  out.push('--tmpfs', '/tmp', '--dir', SANDBOX_WORK, '--bind', o.work, SANDBOX_WORK);
  if ((await locateInImage(o.root, 'var/tmp'))?.kind === 'dir') out.push('--tmpfs', '/var/tmp');
  out.push(
    '--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--cap-drop', 'ALL', '--die-with-parent', '--new-session',
    '--hostname', 'xenroot-sandbox',
    '--clearenv',
  );
  for (const [k, v] of Object.entries(env)) out.push('--setenv', k, v);
  out.push('--chdir', '/', '--', file, ...args);
  return out;
}

/**
 * Runs `file` (a path inside the image) with `args` in the sandbox; resolves with its output and
 * exit code (a failing program is not an error here). Ends with this process's interrupt
 * (SIGTERM, SIGKILL 3 s later; --die-with-parent takes the sandbox along). DependencyError
 * without bwrap.
 */
export async function runInSandbox(o: SandboxOptions, file: string, args: string[] = []): Promise<SandboxResult> {
  if (!which('bwrap')) {
    throw new DependencyError('bwrap is needed to run an image\'s own tools (they never run on the host)', { hint: 'install the Debian package bubblewrap' });
  }
  const r = await execa('bwrap', await sandboxArgs(o, file, args), {
    reject: false,
    extendEnv: false,
    env: { PATH: SANDBOX_PATH },
    stdin: 'ignore',
    cancelSignal: interruptSignal(),
    forceKillAfterDelay: 3_000,
  });
  if (r.isCanceled) throw interruptSignal().reason;
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}
