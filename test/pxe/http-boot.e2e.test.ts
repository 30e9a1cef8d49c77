/**
 * Booting over HTTP from `xenroot serve`, against the real daemons: in a network namespace this
 * test makes, dnsmasq (DHCP and TFTP on a tap device) reads the drop-in `xenroot sync` wrote, and
 * `xenroot serve` listens on the boot server's address there. A BIOS client (QEMU's iPXE ROM) is
 * handed its iPXE script by URL and fetches script, kernel and image initrd over HTTP; a UEFI client
 * (OVMF, its own network stack) takes its first loader over TFTP (snponly.efi: firmware PXE cannot
 * do otherwise) and then does the same over HTTP. Each kernel starts with its own per-client line,
 * and the service's request log shows each client's kernel and initrd sent. The test stops at the
 * kernel's command line (any initrd will do). Nothing leaves the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testKernel, stageKernelOnlyBoot } from '../support/kernel.js';
import { bootQemu, stopAllQemu, type QemuVm } from '../support/qemu.js';
import { listNetns } from '../support/leaks.js';
import { XENROOT, xenroot } from '../support/cli.js';

const BIOS_MAC = '52:54:00:b7:70:01';
const UEFI_MAC = '52:54:00:b7:70:02';
const OVMF = '/usr/share/ovmf/OVMF.fd';
const NETNS = `xenroot-httpboot-${process.pid}`;
// One tap per client (a tap takes one QEMU), both on a bridge that holds the server's address.
const BRIDGE = 'xrhttpbr';
const TAPS = ['xrhttp0', 'xrhttp1'] as const;
const SERVER = '10.78.0.1';
const LISTEN = `${SERVER}:8080`;
let dir: string;
let tftp: string;
let dnsmasq: ChildProcess | undefined;
let serve: ChildProcess | undefined;
const serveLog: string[] = [];
const vms: QemuVm[] = [];
const ns = (...args: string[]) => execa('ip', ['-n', NETNS, ...args]);

process.on('exit', () => {
  dnsmasq?.kill('SIGKILL');
  serve?.kill('SIGKILL');
});

async function waitFor(read: () => Promise<string> | string, pattern: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await read();
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`did not see ${pattern} within ${ms} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const k = await testKernel();
  dir = await mkdtemp(join(tmpdir(), 'xenroot-httpboot-'));
  await chmod(dir, 0o755); // dnsmasq serves TFTP as nobody
  await stageKernelOnlyBoot(dir, k);
  const root = join(dir, 'root');
  const doc = (tftpRoot: string) => ({
    // dnsmasq sends the identity pieces (0600) as nobody: they must be its own.
    site: { nfsServer: SERVER, allow: ['10.78.0.0/24'], bootDir: join(dir, 'boot'), tftpRoot, pxe: { tftpUser: 'nobody', efiLoader: 'ipxe' }, serve: { listen: LISTEN } },
    images: { terminal: { root: join(dir, 'img'), kver: k.kver } },
    guests: {},
    clients: {
      bios: { mac: BIOS_MAC, image: 'terminal', append: 'console=ttyS0 xenroot.client=bios' },
      uefi: { mac: UEFI_MAC, image: 'terminal', append: 'console=ttyS0 xenroot.client=uefi' },
    },
  });
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(inventory, stringify(doc('/tftpboot/linux-install')));
  const env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
  const s = await xenroot(['sync', '--root', root], { env });
  expect(s.code, s.stderr).toBe(0);
  await chmod(root, 0o755); // sync makes its --root private (0700); dnsmasq serves TFTP below it as nobody
  tftp = join(root, 'tftpboot/linux-install');
  // The service has no --root: it reads the same inventory with the tree where this sync put it.
  const serveInventory = join(dir, 'serve.yaml');
  await writeFile(serveInventory, stringify(doc(tftp)));

  await execa('ip', ['netns', 'add', NETNS]);
  await ns('link', 'set', 'lo', 'up');
  await ns('link', 'add', BRIDGE, 'type', 'bridge');
  await ns('addr', 'add', `${SERVER}/24`, 'dev', BRIDGE);
  await ns('link', 'set', BRIDGE, 'up');
  for (const tap of TAPS) {
    await ns('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    await ns('link', 'set', tap, 'master', BRIDGE);
    await ns('link', 'set', tap, 'up');
  }
  const conf = join(dir, 'dnsmasq.conf');
  await writeFile(
    conf,
    [
      'port=0',
      `interface=${BRIDGE}`,
      'bind-interfaces',
      'dhcp-range=10.78.0.50,10.78.0.99,255.255.255.0,1h',
      `dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      'enable-tftp',
      `tftp-root=${tftp}`,
      `log-facility=${join(dir, 'dnsmasq.log')}`,
      'log-dhcp',
      // What `xenroot sync` wrote for /etc/dnsmasq.d: boot files by architecture, the reservations.
      `conf-file=${join(root, 'etc/dnsmasq.d/xenroot.conf')}`,
      '',
    ].join('\n'),
  );
  await execa('dnsmasq', ['--test', `--conf-file=${conf}`]);
  dnsmasq = spawn('nsenter', [`--net=/run/netns/${NETNS}`, 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`], { stdio: 'ignore' });
  await waitFor(() => readFile(join(dir, 'dnsmasq.log'), 'utf8').catch(() => ''), /TFTP root is/, 20_000);

  serve = spawn('nsenter', [`--net=/run/netns/${NETNS}`, 'node', XENROOT, 'serve'], {
    env: { ...process.env, XENROOT_INVENTORY: serveInventory, XENROOT_STATE_DIR: join(dir, 'state'), XENROOT_LOG_JSON: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let buf = '';
  serve.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    serveLog.push(...parts);
  });
  await waitFor(() => serveLog.join('\n'), /boot service listening/, 30_000);
}, 300_000);

afterAll(async () => {
  for (const vm of vms) await vm.stop().catch(() => undefined);
  await stopAllQemu();
  for (const child of [serve, dnsmasq])
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  await execa('ip', ['netns', 'del', NETNS], { reject: false });
  if (dir) await rm(dir, { recursive: true, force: true });
  expect(await listNetns()).not.toContain(NETNS);
});

/** The service's "answered" log lines for a path, as [path, status]. */
function answered(pattern: RegExp): { path: string; status: number }[] {
  return serveLog
    .map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; path?: string; status?: number };
      } catch {
        return {};
      }
    })
    .filter((l) => l.msg === 'answered' && l.path && pattern.test(l.path))
    .map((l) => ({ path: l.path!, status: l.status! }));
}

describe('booting over HTTP from xenroot serve (real dnsmasq and service in a namespace)', () => {
  it('a BIOS iPXE client and a UEFI client (OVMF, snponly.efi over TFTP) fetch script, kernel and initrd over HTTP from the service and start their own kernel line', async () => {
    const [bios, uefi] = await Promise.all([
      bootQemu({ mac: BIOS_MAC, tap: TAPS[0], netns: NETNS, logFile: join(dir, 'bios.log') }),
      bootQemu({ mac: UEFI_MAC, tap: TAPS[1], netns: NETNS, nicExtra: ['romfile='], extraArgs: ['-bios', OVMF], memory: 512, logFile: join(dir, 'uefi.log') }),
    ]);
    vms.push(bios, uefi);
    const cmdline = /Kernel command line: ([^\n]*)\n/;
    const [b, u] = await Promise.all([bios.waitFor(cmdline, 300_000), uefi.waitFor(cmdline, 300_000)]);
    await Promise.all([bios.stop(), uefi.stop()]);
    expect(b.match[1]).toContain('xenroot.client=bios');
    expect(u.match[1]).toContain('xenroot.client=uefi');
    // The kernel and the image's initrd came from the service, 200 each, to each client's script.
    expect(answered(/^\/boot\/ipxe\/boot\.ipxe$/).length).toBeGreaterThanOrEqual(2);
    for (const mac of [BIOS_MAC, UEFI_MAC]) expect(answered(new RegExp(`/${mac.replace(/:/g, '-')}/ipxe$`))).toEqual([expect.objectContaining({ status: 200 })]);
    const kernels = answered(/^\/boot\/images\/terminal\/vmlinuz-/);
    const initrds = answered(/^\/boot\/images\/terminal\/initrd-/);
    expect(kernels.length, serveLog.join('\n')).toBe(2);
    expect(initrds.length).toBe(2);
    for (const r of [...kernels, ...initrds]) expect(r.status).toBe(200);
    // dnsmasq handed the UEFI firmware snponly.efi over TFTP; both iPXEs took boot.ipxe's URL from
    // its answer (the service's log above shows both fetches; dnsmasq logs no bootfile line for them).
    const dlog = await readFile(join(dir, 'dnsmasq.log'), 'utf8');
    expect(dlog).toMatch(/sent \S+\/snponly\.efi to 10\.78\.0\.\d+/);
    console.log(`HTTP boot to kernel command line: BIOS ${b.ms} ms, UEFI ${u.ms} ms`);
  }, 420_000);
});
