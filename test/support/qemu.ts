/**
 * QEMU boot harness for tests (the product boots through libvirt): TCG, no graphics, no reboot,
 * user networking (the guest is 10.0.2.15, the host's loopback is 10.0.2.2), the serial console
 * captured in memory and to a log file. Direct kernel boot or PXE (`-boot n`, iPXE ROM, QEMU's
 * built-in TFTP). Every VM is killed by PID at stop(), at process exit, and (through
 * `setpriv --pdeathsig KILL`) when the test process dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A kernel argument every test boot under QEMU TCG needs: on a busy host the kernel's IO-APIC timer
 * check can panic ("IO-APIC + timer doesn't work!"), as a loaded fresh-machine run showed for a PXE
 * client. Direct kernel boots get it here; boots whose command line xenroot writes (PXE clients,
 * guests) get it through the test's `--append`.
 */
export const TCG_APPEND = 'no_timer_check';

export interface QemuOptions {
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Memory in MiB (default 512). */
  memory?: number;
  mac?: string;
  /** NIC model (default virtio-net-pci). */
  nic?: 'virtio-net-pci' | 'e1000';
  /** PXE: boot from the network with QEMU's TFTP server serving `tftp`, handing out `bootfile`. */
  pxe?: { tftp: string; bootfile: string };
  /** Extra `,key=value` items for `-netdev user` (e.g. hostfwd=tcp:127.0.0.1:2222-:22). */
  netdevExtra?: string[];
  /** Extra `,key=value` items for the NIC device (e.g. addr=0x5, bootindex=1, romfile= for OVMF's own PXE). */
  nicExtra?: string[];
  /** Extra QEMU arguments. */
  extraArgs?: string[];
  /** Run QEMU inside this network namespace (`ip netns exec`), e.g. the NFS server's. */
  netns?: string;
  /** Attach the NIC to this existing tap device (in `netns`) instead of user networking: PXE from a real DHCP/TFTP server there. */
  tap?: string;
  /** Console log file (default: a new temp dir's console.log). */
  logFile?: string;
}

export interface WaitResult {
  /** Milliseconds from the QEMU start to the match. */
  ms: number;
  match: RegExpMatchArray;
}

export interface QemuVm {
  pid: number;
  logFile: string;
  args: string[];
  /** Everything the serial console printed so far. */
  console(): string;
  /** The last `lines` lines of the console. */
  tail(lines?: number): string;
  /** Resolves when the console matches; rejects with the console tail on timeout or QEMU exit. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<WaitResult>;
  /** Resolves with the exit code once QEMU has exited (e.g. the guest powered off). */
  exited(): Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Kills every VM this process still runs (for afterAll hooks). */
export async function stopAllQemu(): Promise<void> {
  await Promise.all(
    [...running].map(
      (c) =>
        new Promise<void>((res) => {
          if (c.exitCode !== null || c.signalCode !== null) return res();
          c.once('exit', () => res());
          c.kill('SIGKILL');
        }),
    ),
  );
}

/**
 * The QEMU command line. The serial console goes to a file (`serialFile`), not to a pipe: QEMU's
 * 16550 drops a character after a few failed writes to a backend that is not drained fast enough
 * (hw/char/serial.c, MAX_XMIT_RETRY), which a busy test process reading a pipe made happen; a
 * file never refuses a write.
 */
export function qemuArgs(o: QemuOptions & { serialFile?: string }): string[] {
  const nic = o.nic ?? 'virtio-net-pci';
  const netdev = o.tap
    ? ['tap', 'id=n0', `ifname=${o.tap}`, 'script=no', 'downscript=no'].join(',')
    : ['user', 'id=n0', ...(o.pxe ? [`tftp=${o.pxe.tftp}`, `bootfile=${o.pxe.bootfile}`] : []), ...(o.netdevExtra ?? [])].join(',');
  const console = o.serialFile ? ['-display', 'none', '-monitor', 'none', '-serial', `file:${o.serialFile}`] : ['-nographic'];
  const args = ['-accel', 'tcg', ...console, '-no-reboot', '-m', String(o.memory ?? 512), '-netdev', netdev];
  // Direct kernel boot needs no option ROM: an empty romfile skips iPXE and its Ctrl-B prompt.
  args.push('-device', [nic, 'netdev=n0', ...(o.mac ? [`mac=${o.mac}`] : []), ...(o.pxe || (o.tap && !o.kernel) || o.nicExtra?.includes('romfile=') ? [] : ['romfile=']), ...(o.nicExtra ?? [])].join(','));
  if (o.pxe || o.tap) args.push('-boot', 'n');
  if (o.kernel) args.push('-kernel', o.kernel);
  if (o.initrd) args.push('-initrd', o.initrd);
  if (o.append) args.push('-append', /\bno_timer_check\b/.test(o.append) ? o.append : `${o.append} ${TCG_APPEND}`);
  args.push(...(o.extraArgs ?? []));
  return args;
}

export async function bootQemu(o: QemuOptions): Promise<QemuVm> {
  if (!o.pxe && !o.tap && !o.kernel) throw new Error('bootQemu: give a kernel (direct boot), pxe, or a tap to PXE-boot from');
  const logFile = o.logFile ?? join(await mkdtemp(join(tmpdir(), 'xenroot-qemu-')), 'console.log');
  writeFileSync(logFile, '');
  const args = qemuArgs({ ...o, serialFile: logFile });
  const started = Date.now();
  const cmd = ['setpriv', '--pdeathsig', 'KILL', 'qemu-system-x86_64', ...args];
  // nsenter execs the command (ip netns exec would fork), so the PID stays QEMU's.
  if (o.netns) cmd.unshift('nsenter', `--net=/run/netns/${o.netns}`);
  const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('bootQemu: qemu-system-x86_64 could not be started');
  let text = '';
  const waiters = new Set<() => void>();
  // QEMU writes the serial console into logFile; read what it added every 50 ms.
  const fd = openSync(logFile, 'r');
  let offset = 0;
  const buf = Buffer.alloc(64 * 1024);
  const pull = (): void => {
    let added = false;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) break;
      offset += n;
      text += buf.subarray(0, n).toString('utf8').replace(/\r/g, '');
      added = true;
    }
    if (added) for (const w of waiters) w();
  };
  const poll = setInterval(pull, 50);
  // QEMU's own messages (a bad option, a missing ROM) are kept too.
  const onStderr = (d: Buffer): void => {
    text += d.toString('utf8').replace(/\r/g, '');
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onStderr);
  child.stderr?.on('data', onStderr);
  const exit = new Promise<number | null>((res) =>
    child.once('exit', (code) => {
      running.delete(child);
      clearInterval(poll);
      pull();
      closeSync(fd);
      for (const w of waiters) w();
      res(code);
    }),
  );
  const tail = (lines = 25) => text.split('\n').slice(-lines).join('\n');
  const isDone = () => child.exitCode !== null || child.signalCode !== null;

  return {
    pid,
    logFile,
    args,
    console: () => text,
    tail,
    exited: () => exit,
    waitFor(pattern, timeoutMs) {
      return new Promise<WaitResult>((res, rej) => {
        const check = (): void => {
          const m = text.match(pattern);
          if (m) {
            finish();
            res({ ms: Date.now() - started, match: m });
          } else if (isDone()) {
            finish();
            rej(new Error(`QEMU exited before the console showed ${pattern}; console tail:\n${tail()}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          rej(new Error(`console did not show ${pattern} within ${timeoutMs} ms; console tail:\n${tail()}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!isDone()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exit;
        clearTimeout(t);
      }
    },
  };
}
