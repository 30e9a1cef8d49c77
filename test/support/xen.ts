/**
 * Nested real Xen for end-to-end tests: Xen 4.17 under QEMU TCG with a PV dom0 running xl,
 * xenconsoled and libvirtd (libxl driver). The dom0 is built (and cached) by
 * scripts/xen/build-dom0.sh; see that script for what is inside.
 *
 * The host reaches dom0 two ways:
 *  - libvirt: dom0's libvirtd listens on TCP 16509 (no auth, throwaway VM), forwarded by QEMU's
 *    user network to a free loopback port: `xen+tcp://127.0.0.1:PORT/system`;
 *  - a command agent: a virtio-9p spool folder polled by a script in dom0 (runInDom0).
 * An optional host folder (`share`) is mounted in dom0 at the same absolute path, so kernel and
 * initrd paths written into generated xl .cfg / libvirt XML on the host are valid in dom0 too.
 * QEMU is stopped by PID in stop(), on process exit and on SIGINT/SIGTERM.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DependencyError, HypervisorError, TimeoutError } from '../../src/sys/errors.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BUILD_SCRIPT = join(REPO, 'scripts/xen/build-dom0.sh');

export interface Dom0Build {
  dir: string;
  xenElf: string;
  vmlinuz: string;
  initrd: string;
  rootImage: string;
  /** xen-netfront.ko of the same kernel, for marker guests. */
  netfront: string;
  /** The test client's private key, allowed as root by dom0's sshd (xen+ssh://). */
  sshClientKey: string;
  /** dom0's sshd host public key (ssh_host_ed25519_key.pub). */
  sshHostKeyPub: string;
  manifest: {
    key: string;
    xenVersion: string;
    kernelPackage: string;
    kernelVersion: string;
    buildSeconds: number;
    rootfsMiB: number;
    bytes: Record<string, number>;
  };
  /** Wall time of this call: ~0 when the cache was hit. */
  ms: number;
}

let buildOnce: Promise<Dom0Build> | undefined;

/** Builds (or finds cached) Xen + dom0 artifacts; once per process. */
export function buildDom0(): Promise<Dom0Build> {
  buildOnce ??= (async () => {
    const t0 = Date.now();
    const r = await execa('bash', [BUILD_SCRIPT], { stderr: 'pipe', reject: false });
    if (r.exitCode !== 0) {
      throw new DependencyError(`scripts/xen/build-dom0.sh failed with exit code ${r.exitCode}`, {
        hint: r.stderr.split('\n').slice(-15).join('\n'),
      });
    }
    const dir = r.stdout.trim().split('\n').pop() ?? '';
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Dom0Build['manifest'];
    return {
      dir,
      xenElf: join(dir, 'xen.elf'),
      vmlinuz: join(dir, 'vmlinuz'),
      initrd: join(dir, 'dom0-initrd.gz'),
      rootImage: join(dir, 'dom0.ext4'),
      netfront: join(dir, 'xen-netfront.ko'),
      sshClientKey: join(dir, 'id_ed25519'),
      sshHostKeyPub: join(dir, 'ssh_host_ed25519_key.pub'),
      manifest,
      ms: Date.now() - t0,
    };
  })();
  return buildOnce;
}

/** A free TCP port on 127.0.0.1 (bound and released; QEMU binds it next). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunResult {
  exitCode: number;
  output: string;
}

export interface NestedXen {
  /** `xen+tcp://127.0.0.1:PORT/system` */
  uri: string;
  port: number;
  /** QEMU's serial console (Xen + dom0 hvc0) log file on the host. */
  consoleLog: string;
  /** Host folder mounted at the same path in dom0, when one was given. */
  share: string | undefined;
  /** Folder for this run (console log, agent spool). */
  workDir: string;
  pid: number;
  /** Milliseconds from QEMU start until `virsh version` answered through the forwarded port. */
  readyMs: number;
  /** Loopback port forwarded to dom0's sshd, when started with `ssh`. */
  sshPort: number | undefined;
  /** Runs a shell script in dom0 as root; stdout and stderr together. */
  runInDom0(script: string, opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** Like runInDom0 but throws on a non-zero exit. */
  mustRunInDom0(script: string, opts?: { timeoutMs?: number }): Promise<string>;
  readConsole(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Host folder to mount in dom0 at the same absolute path. */
  share?: string;
  /** Parent of the run folder (default: os.tmpdir()). */
  workParent?: string;
  /** How long to wait for dom0's libvirtd (default 600 s: TCG on a busy 2-core host). */
  readyTimeoutMs?: number;
  /** Also forward a free loopback port to dom0's sshd (xen+ssh://). */
  ssh?: boolean;
}

const running = new Set<number>();
let hooked = false;
function killAllSync(): void {
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSync();
      process.kill(process.pid, sig);
    });
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The QEMU command line for nested Xen (pure; exported for tests). */
export function qemuArgs(o: {
  build: Pick<Dom0Build, 'xenElf' | 'vmlinuz' | 'initrd' | 'rootImage'>;
  port: number;
  spool: string;
  share?: string;
  pidFile: string;
  /** Loopback port to forward to dom0's sshd. */
  sshPort?: number;
}): string[] {
  const dom0Cmdline = ['console=hvc0', 'earlyprintk=xen', 'root=/dev/vda'];
  if (o.share) dom0Cmdline.push(`xenroot.share=${o.share}`);
  // QEMU splits -initrd modules on ',' (escape: ',,'); paths here have none.
  for (const p of [o.build.vmlinuz, o.build.initrd, o.share ?? '']) {
    if (p.includes(',') || /\s/.test(p)) throw new DependencyError(`path ${p} contains a comma or space; QEMU's multiboot module list cannot carry it`);
  }
  const args = [
    '-accel', 'tcg', '-cpu', 'Nehalem', '-m', '3072', '-smp', '2',
    '-nographic', '-no-reboot', '-pidfile', o.pidFile,
    '-kernel', o.build.xenElf,
    '-append', 'console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 noreboot',
    '-initrd', `${o.build.vmlinuz} ${dom0Cmdline.join(' ')},${o.build.initrd}`,
    '-drive', `file=${o.build.rootImage},if=virtio,format=raw,snapshot=on`,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${o.port}-:16509${o.sshPort ? `,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22` : ''}`,
    '-device', 'e1000,netdev=n0',
    '-fsdev', `local,id=fsagent,path=${o.spool},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=fsagent,mount_tag=xagent',
  ];
  if (o.share) {
    args.push('-fsdev', `local,id=fsshare,path=${o.share},security_model=none`);
    args.push('-device', 'virtio-9p-pci,fsdev=fsshare,mount_tag=xshare');
  }
  return args;
}

/** Boots nested Xen and waits until dom0's libvirtd answers on the forwarded loopback port. */
export async function startNestedXen(opts: StartOptions = {}): Promise<NestedXen> {
  const build = await buildDom0();
  const workDir = await mkdtemp(join(opts.workParent ?? tmpdir(), 'xenroot-xen-'));
  const spool = join(workDir, 'spool');
  await mkdir(join(spool, 'req'), { recursive: true });
  const consoleLog = join(workDir, 'console.log');
  const pidFile = join(workDir, 'qemu.pid');
  const port = await freeLoopbackPort();
  const sshPort = opts.ssh ? await freeLoopbackPort() : undefined;
  const uri = `xen+tcp://127.0.0.1:${port}/system`;
  hookExit();

  const t0 = Date.now();
  const child = execa('qemu-system-x86_64', qemuArgs({ build, port, spool, share: opts.share, pidFile, ...(sshPort ? { sshPort } : {}) }), {
    stdin: 'ignore',
    stdout: { file: consoleLog },
    stderr: { file: join(workDir, 'qemu.stderr') },
    reject: false,
    cleanup: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new DependencyError('qemu-system-x86_64 did not start', { hint: 'apt-get install qemu-system-x86' });
  running.add(pid);
  let exited = false;
  void child.then(() => {
    exited = true;
    running.delete(pid);
  });

  const readConsole = (): string => (existsSync(consoleLog) ? readFileSync(consoleLog, 'latin1') : '');
  const tail = (): string => readConsole().split('\n').slice(-25).join('\n');

  const stop = async (): Promise<void> => {
    if (!exited && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited && alive(pid)) process.kill(pid, 'SIGKILL');
      await child;
    }
    running.delete(pid);
  };

  const runInDom0 = async (script: string, o: { timeoutMs?: number } = {}): Promise<RunResult> => {
    const id = `${Date.now()}-${randomBytes(4).toString('hex')}`;
    const tmp = join(spool, `${id}.tmp`);
    await writeFile(tmp, script);
    await rename(tmp, join(spool, 'req', `${id}.sh`));
    const rcFile = join(spool, 'out', `${id}.rc`);
    const deadline = Date.now() + (o.timeoutMs ?? 120_000);
    while (!existsSync(rcFile)) {
      if (exited) throw new HypervisorError(`nested Xen exited while dom0 ran: ${script.slice(0, 80)}`, { hint: tail() });
      if (Date.now() > deadline) throw new TimeoutError(`dom0 command did not finish in ${o.timeoutMs ?? 120_000} ms: ${script.slice(0, 80)}`);
      await sleep(200);
    }
    const exitCode = Number((await readFile(rcFile, 'utf8')).trim());
    const output = await readFile(join(spool, 'out', `${id}.out`), 'utf8');
    return { exitCode, output };
  };
  const mustRunInDom0 = async (script: string, o: { timeoutMs?: number } = {}): Promise<string> => {
    const r = await runInDom0(script, o);
    if (r.exitCode !== 0) throw new HypervisorError(`dom0 command exited ${r.exitCode}: ${script.slice(0, 120)}`, { hint: r.output });
    return r.output;
  };

  try {
    const deadline = t0 + (opts.readyTimeoutMs ?? 600_000);
    for (;;) {
      if (exited) throw new HypervisorError('nested Xen (QEMU) exited before dom0 libvirtd answered', { hint: tail() });
      if (Date.now() > deadline) throw new TimeoutError(`dom0 libvirtd did not answer on ${uri} in time`, { hint: tail() });
      // An unanswered forward hangs the connect: bound each probe, and never past the deadline
      // (a dom0 that answers only after it must still end with the TimeoutError).
      const r = await execa('virsh', ['-c', uri, 'version'], { reject: false, timeout: Math.max(500, Math.min(20_000, deadline - Date.now())) });
      if (Date.now() > deadline) continue;
      if (r.exitCode === 0 && /Xen/.test(r.stdout)) break;
      await sleep(1000);
    }
    const readyMs = Date.now() - t0;
    // The agent starts before libvirtd; it is up once its flag file exists.
    for (let i = 0; i < 100 && !existsSync(join(spool, 'agent-ready')); i++) await sleep(100);
    return { uri, port, sshPort, consoleLog, share: opts.share, workDir, pid, readyMs, runInDom0, mustRunInDom0, readConsole, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Removes a run folder (after stop()). */
export async function removeWorkDir(x: NestedXen): Promise<void> {
  await rm(x.workDir, { recursive: true, force: true });
}

/**
 * Writes a tiny gzip'd newc initrd (static busybox) whose /init prints `MARKER <cmdline>` and the
 * NIC list on hvc0, then idles: enough to prove a PV guest booted and has its vif.
 */
export async function writeMarkerInitrd(path: string, marker: string, netfront?: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'xenroot-marker-'));
  try {
    await mkdir(join(dir, 'bin'), { recursive: true });
    for (const d of ['dev', 'proc', 'sys']) await mkdir(join(dir, d));
    await execa('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
    if (netfront) await execa('cp', [netfront, join(dir, 'xen-netfront.ko')]);
    const init = [
      '#!/bin/busybox sh',
      '/bin/busybox mount -t proc proc /proc',
      '/bin/busybox mount -t sysfs sysfs /sys',
      '/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null',
      '[ -f /xen-netfront.ko ] && /bin/busybox insmod /xen-netfront.ko',
      '/bin/busybox sleep 1',
      `echo "${marker} $(/bin/busybox cat /proc/cmdline)" >/dev/hvc0`,
      'for n in /sys/class/net/*; do echo "nic ${n##*/} $(/bin/busybox cat $n/address)" >/dev/hvc0; done',
      'while :; do /bin/busybox sleep 3600; done',
      '',
    ].join('\n');
    await writeFile(join(dir, 'init'), init, { mode: 0o755 });
    await execa('sh', ['-c', `cd "${dir}" && find . | cpio -o -H newc --quiet | gzip -1 > "${path}"`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
