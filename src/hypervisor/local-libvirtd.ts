/**
 * A private libvirtd with the qemu driver, for tests and for `xenroot demo` / `xenroot test` on
 * machines without a running libvirtd. It never changes the machine's own libvirt setup:
 *
 * libvirtd runs in system mode inside its own mount namespace (`unshare -m --propagation
 * private`). In there, /var and /run are overlays whose writes land in the private directory
 * (everything else on the host stays visible, e.g. kernels under /var/lib), libvirt's own state
 * directories (/var/lib/libvirt, /var/log/libvirt, /var/cache/libvirt, /run/libvirt) and
 * /etc/libvirt are replaced by private ones (so the host's domains are neither seen nor
 * autostarted), and /etc/passwd + /etc/group are private copies that add the libvirt-qemu user
 * the qemu driver insists on. qemu.conf relaxes what a sandbox lacks (security driver, cgroups,
 * namespaces, ownership changes) and writes QEMU's stdio to a file, so no virtlogd is needed.
 * Where overlayfs is not available the private /var and /run are plain directories instead.
 *
 * Clients reach it at `qemu:///system?socket=DIR/state/run/libvirt/libvirt-sock`.
 * stop() destroys its running domains, kills any QEMU it left by PID, then stops libvirtd by PID;
 * it is registered with the cleanup registry (src/sys/lifetime.ts), so a signal stops it too, and
 * an exit handler kills by PID what the caller never stopped. A parent killed with SIGKILL cannot
 * clean up: its libvirtd outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import { onCleanup, throwIfInterrupted } from '../sys/lifetime.js';
import { killPid, killPidNow, pidAlive } from '../sys/proc.js';
import { requireProgram } from '../sys/which.js';
import { makeTempDir } from '../sys/tmp.js';
import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DependencyError, HypervisorError, TimeoutError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { LibvirtHypervisor } from './libvirt.js';

export interface LocalLibvirtd {
  /** The URI clients use. */
  uri: string;
  /** PID of libvirtd. */
  pid: number;
  /** The private directory. */
  dir: string;
  socket: string;
  logFile: string;
  /** Whether /var and /run are overlays (else plain private directories). */
  overlay: boolean;
  /** Stops everything it started; idempotent. */
  stop(): Promise<void>;
}

export interface LocalLibvirtdOptions {
  /** Private directory (created); default a fresh mkdtemp under $TMPDIR. */
  dir?: string;
  /** How long to wait for the socket to answer (default 30 s). */
  timeoutMs?: number;
  /** Keep the private directory after stop() (logs). Default: remove it. */
  keepDir?: boolean;
}

export const QEMU_CONF = `# written by xenroot for a private libvirtd
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
`;

export const LIBVIRTD_CONF = `# written by xenroot for a private libvirtd
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
`;

/** The shell run inside the new mount namespace; $1 is the private directory. */
export const NAMESPACE_SCRIPT = `set -eu
D="$1"
overlay=1
for top in var run; do
  if ! mount -t overlay overlay -o "lowerdir=/$top,upperdir=$D/$top.upper,workdir=$D/$top.work" "/$top" 2>/dev/null; then
    overlay=0
    mount --bind "$D/$top.upper" "/$top"
  fi
done
echo "xenroot: overlay=$overlay" >&2
for p in /var/lib/libvirt /var/log/libvirt /var/cache/libvirt /run/libvirt /run/lock /var/lib/libvirt/qemu; do
  mkdir -p "$p"
done
mount --bind "$D/state/var/lib/libvirt" /var/lib/libvirt
mount --bind "$D/state/var/log/libvirt" /var/log/libvirt
mount --bind "$D/state/var/cache/libvirt" /var/cache/libvirt
mount --bind "$D/state/run/libvirt" /run/libvirt
[ -e /var/lock ] || ln -s /run/lock /var/lock
[ -e /var/run ] || ln -s /run /var/run
mount --bind "$D/etc-libvirt" /etc/libvirt
mount --bind "$D/passwd" /etc/passwd
mount --bind "$D/group" /etc/group
exec libvirtd --pid-file /run/libvirt/xenroot-libvirtd.pid
`;

/** PIDs of the QEMU processes the private libvirtd started (from its pid files). */
export function qemuPids(dir: string): number[] {
  const qdir = join(dir, 'state/run/libvirt/qemu');
  if (!existsSync(qdir)) return [];
  const pids: number[] = [];
  for (const f of readdirSync(qdir)) {
    if (!f.endsWith('.pid')) continue;
    const n = Number(readFileSync(join(qdir, f), 'utf8').trim());
    if (Number.isInteger(n) && n > 1) pids.push(n);
  }
  return pids;
}

async function prepareDir(dir: string): Promise<void> {
  for (const d of ['var.upper', 'var.work', 'run.upper', 'run.work', 'etc-libvirt', 'state/var/lib/libvirt', 'state/var/log/libvirt', 'state/var/cache/libvirt', 'state/run/libvirt']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  await writeFile(join(dir, 'etc-libvirt/qemu.conf'), QEMU_CONF);
  await writeFile(join(dir, 'etc-libvirt/libvirtd.conf'), LIBVIRTD_CONF);
  await copyFile('/etc/passwd', join(dir, 'passwd'));
  await copyFile('/etc/group', join(dir, 'group'));
  const passwd = await readFile(join(dir, 'passwd'), 'utf8');
  const group = await readFile(join(dir, 'group'), 'utf8');
  const sep = (t: string) => (t.endsWith('\n') || t === '' ? '' : '\n');
  if (!/^libvirt-qemu:/m.test(group)) await appendFile(join(dir, 'group'), `${sep(group)}libvirt-qemu:x:64055:\n`);
  if (!/^kvm:/m.test(group)) await appendFile(join(dir, 'group'), 'kvm:x:64056:\n');
  if (!/^libvirt-qemu:/m.test(passwd)) await appendFile(join(dir, 'passwd'), `${sep(passwd)}libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n`);
  await writeFile(join(dir, 'start.sh'), NAMESPACE_SCRIPT, { mode: 0o755 });
}

function checkHost(): void {
  if (process.getuid?.() !== 0) {
    throw new DependencyError('a private libvirtd in system mode needs root', {
      hint: 'run as root, or use a session daemon as an unprivileged user: --connect qemu:///session',
    });
  }
  requireProgram('libvirtd', 'libvirt-daemon', 'for a private libvirtd');
  requireProgram('unshare', 'util-linux', 'for a private libvirtd');
  requireProgram('qemu-system-x86_64', 'qemu-system-x86', 'for a private libvirtd');
  if (!existsSync('/etc/libvirt')) throw new DependencyError('/etc/libvirt does not exist (nothing to mount the private config over)', { hint: 'install libvirt-daemon' });
  if (!existsSync('/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so') && !existsSync('/usr/lib64/libvirt/connection-driver/libvirt_driver_qemu.so')) {
    throw new DependencyError("libvirt's qemu driver is not installed", { hint: 'install the Debian package libvirt-daemon-driver-qemu' });
  }
}

/** Where the private libvirtd's socket is, below its directory. */
const SOCKET_IN_DIR = 'state/run/libvirt/libvirt-sock';
/** Bytes of a unix socket path: sun_path is 108 bytes on Linux (unix(7)), NUL included. */
const SUN_PATH_MAX = 107;

/**
 * The parent of the private libvirtd's directory: $TMPDIR, unless the socket's path below it
 * would pass the unix socket limit (a deep $TMPDIR, as a test run's private one), then /tmp.
 */
function libvirtdParent(): string {
  const parent = tmpdir();
  return join(parent, 'xenroot-libvirtd-XXXXXX', SOCKET_IN_DIR).length > SUN_PATH_MAX ? '/tmp' : parent;
}

/**
 * Starts a private libvirtd and waits until its socket answers. `options.dir` (else a temp dir)
 * holds its state and its socket; HypervisorError when the socket's path there would be longer
 * than a unix socket path may be (107 bytes).
 */
export async function startLocalLibvirtd(options: LocalLibvirtdOptions = {}): Promise<LocalLibvirtd> {
  checkHost();
  if (options.dir !== undefined && join(options.dir, SOCKET_IN_DIR).length > SUN_PATH_MAX)
    throw new HypervisorError(`${options.dir}: the private libvirtd's socket there (${join(options.dir, SOCKET_IN_DIR)}) is longer than a unix socket path may be (${SUN_PATH_MAX} bytes)`, { hint: 'give a shorter directory' });
  const own = options.dir === undefined ? await makeTempDir('xenroot-libvirtd-', libvirtdParent()) : undefined;
  const dir = own ? own.path : (options.dir as string);
  await prepareDir(dir);
  throwIfInterrupted();
  const logFile = join(dir, 'libvirtd.log');
  const socket = join(dir, SOCKET_IN_DIR);
  const uri = `qemu:///system?socket=${socket}`;
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', join(dir, 'start.sh'), dir], {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, LC_ALL: 'C' },
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new HypervisorError('could not start libvirtd (spawn failed)', { hint: `see ${logFile}` });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      if (pidAlive(pid) && existsSync(socket)) {
        const h = new LibvirtHypervisor(uri, { connectTimeoutMs: 3_000, callTimeoutMs: 10_000 });
        try {
          await h.connect();
          for (const d of await h.list()) {
            if (d.id !== undefined) await h.destroy(d.name).catch((err: unknown) => log().warn({ err, domain: d.name }, 'destroying a domain of the private libvirtd failed'));
          }
        } catch (err) {
          log().debug({ err }, 'could not reach the private libvirtd to destroy its domains; killing QEMU by PID');
        } finally {
          await h.close();
        }
      }
      // libvirtd first, so that no create still in flight starts another QEMU after the sweep.
      await killPid(pid, { what: 'libvirtd' });
      for (const q of qemuPids(dir)) await killPid(q, { what: 'qemu' });
    } finally {
      if (options.keepDir) own?.keep();
      else await own?.remove();
    }
  };
  // Undone by the owner through stop(), or by the signal policy; an exit handler can only kill by PID.
  const cleanup = onCleanup(`private libvirtd pid ${pid}`, stop, {
    sync: () => {
      for (const q of qemuPids(dir)) killPidNow(q);
      killPidNow(pid);
    },
  });

  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    for (;;) {
      if (exited !== undefined) {
        const tail = (await readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
        throw new HypervisorError(`the private libvirtd exited (status ${exited}) before its socket answered`, { hint: `its log (${logFile}):\n${tail}` });
      }
      if (existsSync(socket)) {
        const h = new LibvirtHypervisor(uri, { connectTimeoutMs: 2_000 });
        const ok = await h.connect().then(
          () => true,
          () => false,
        );
        await h.close();
        if (ok) break;
      }
      if (Date.now() - started > timeoutMs) throw new TimeoutError(`the private libvirtd did not answer on ${socket} within ${timeoutMs / 1000} s`, { hint: `see ${logFile}` });
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await cleanup.run();
    throw err;
  }
  const overlay = /overlay=1/.test(await readFile(logFile, 'utf8').catch(() => ''));
  log().debug({ pid, uri, ms: Date.now() - started, overlay }, 'private libvirtd up');
  return { uri, pid, dir, socket, logFile, overlay, stop: () => cleanup.run() };
}
