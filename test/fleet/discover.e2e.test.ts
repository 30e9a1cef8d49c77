/**
 * Discovery against the real daemons: dnsmasq (as root, dropping to nobody as it does) serves
 * DHCP and TFTP on a tap device inside a network namespace this test makes; a QEMU PXE client
 * (iPXE ROM, then pxelinux.0 from the tree `xenroot sync --root` wrote) boots the default entry.
 * `xenroot client discover` finds its MAC in dnsmasq's real lease file (and in its log that it
 * fetched pxelinux.cfg/default); `--assign` enrols it in a group; after `xenroot sync` its next
 * PXE boot takes its own pxelinux.cfg/01-MAC entry (the group's kernel argument is on its command
 * line, and dnsmasq's log shows the per-MAC file sent). Nothing leaves the namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { testKernel, stageKernelOnlyBoot } from '../support/kernel.js';
import { bootQemu, stopAllQemu } from '../support/qemu.js';
import { listNetns } from '../support/leaks.js';
import { xenroot } from '../support/cli.js';

const MAC = '52:54:00:d1:5c:01';
const NETNS = `xenroot-disc-${process.pid}-1`;
const TAP = 'xrdisc0';
const SERVER = '10.77.0.1';
let dir: string;
let env: Record<string, string>;
let dnsmasq: ChildProcess | undefined;
const root = () => join(dir, 'root');
const tftp = () => join(root(), 'tftpboot/linux-install');
const ns = (...args: string[]) => execa('ip', ['-n', NETNS, ...args]);

process.on('exit', () => dnsmasq?.kill('SIGKILL'));

async function waitForFile(path: string, pattern: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`${path} did not show ${pattern} within ${ms} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const k = await testKernel();
  dir = await mkdtemp(join(tmpdir(), 'xenroot-discover-'));
  await chmod(dir, 0o755); // dnsmasq serves TFTP as nobody
  await stageKernelOnlyBoot(dir, k);
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({
      // dnsmasq sends files as nobody: the clients' identity pieces (0600) must be its own.
      site: { nfsServer: SERVER, allow: ['10.77.0.0/24'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install', pxe: { tftpUser: 'nobody' } },
      images: { terminal: { root: join(dir, 'img'), kver: k.kver } },
      groups: { lab: { image: 'terminal', names: 'lab-{nn}', append: 'xenroot.group=lab' } },
      guests: {},
      clients: {},
    }),
  );
  env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
  const s = await xenroot(['sync', '--root', root()], { env });
  expect(s.code, s.stderr).toBe(0);
  expect(existsSync(join(tftp(), 'pxelinux.cfg/default'))).toBe(true);

  await execa('ip', ['netns', 'add', NETNS]);
  await ns('link', 'set', 'lo', 'up');
  await ns('tuntap', 'add', 'dev', TAP, 'mode', 'tap');
  await ns('addr', 'add', `${SERVER}/24`, 'dev', TAP);
  await ns('link', 'set', TAP, 'up');
  const conf = join(dir, 'dnsmasq.conf');
  await writeFile(
    conf,
    [
      'port=0', // no DNS
      `interface=${TAP}`,
      'bind-interfaces',
      'dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,1h',
      `dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      'dhcp-boot=pxelinux.0',
      'enable-tftp',
      `tftp-root=${tftp()}`,
      `log-facility=${join(dir, 'dnsmasq.log')}`,
      'log-dhcp',
      '',
    ].join('\n'),
  );
  await execa('dnsmasq', ['--test', `--conf-file=${conf}`]);
  dnsmasq = spawn('nsenter', [`--net=/run/netns/${NETNS}`, 'dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`], { stdio: 'ignore' });
  await waitForFile(join(dir, 'dnsmasq.log'), /TFTP root is/, 20_000);
});

afterAll(async () => {
  await stopAllQemu();
  if (dnsmasq && dnsmasq.exitCode === null) {
    const exited = new Promise((r) => dnsmasq!.once('exit', r));
    dnsmasq.kill('SIGTERM');
    await exited;
  }
  await execa('ip', ['netns', 'del', NETNS], { reject: false });
  if (dir) await rm(dir, { recursive: true, force: true });
  expect(await listNetns()).not.toContain(NETNS);
});

describe('client discover with a real dnsmasq', () => {
  it('finds a QEMU PXE client\'s MAC in dnsmasq\'s lease file, --assign enrols it, and its next PXE boot takes its own pxelinux.cfg/01-MAC entry', async () => {
    const cmdline = /Kernel command line: ([^\n]*)\n/;
    const t0 = Date.now();
    const first = await bootQemu({ mac: MAC, tap: TAP, netns: NETNS, logFile: join(dir, 'boot1.log') });
    const one = await first.waitFor(cmdline, 150_000);
    await first.stop();
    expect(one.match[1]).toContain('root=nfs4:10.77.0.1:');
    expect(one.match[1]).not.toContain('xenroot.group=lab');
    const leases = await readFile(join(dir, 'dnsmasq.leases'), 'utf8');
    expect(leases).toMatch(new RegExp(`^\\d+ ${MAC} 10\\.77\\.0\\.\\d+ `, 'm'));
    const log = join(dir, 'dnsmasq.log');
    expect(await readFile(log, 'utf8')).toMatch(/sent \S+\/pxelinux\.cfg\/default to 10\.77\.0\.\d+/);

    const listed = await xenroot(['--json', 'client', 'discover', '--leases', join(dir, 'dnsmasq.leases'), '--log', log], { env });
    expect(listed.code, listed.stderr).toBe(0);
    const found = JSON.parse(listed.stdout) as { found: { mac: string; ip: string; askedDefault: { pxelinux: boolean }; lastSeen: number }[] };
    expect(found.found).toHaveLength(1);
    expect(found.found[0]).toMatchObject({ mac: MAC, ip: expect.stringMatching(/^10\.77\.0\.\d+$/), askedDefault: { pxelinux: true } });
    expect(Math.abs(found.found[0]!.lastSeen - Date.now())).toBeLessThan(10 * 60_000);

    const assign = await xenroot(['--json', 'client', 'discover', '--leases', join(dir, 'dnsmasq.leases'), '--log', log, '--group', 'lab', '--assign'], { env });
    expect(assign.code, assign.stderr).toBe(0);
    expect(JSON.parse(assign.stdout).assigned).toEqual([{ name: 'lab-01', mac: MAC }]);
    const show = await xenroot(['--json', 'client', 'show', MAC.toUpperCase().replace(/:/g, '-')], { env });
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'lab-01', group: 'lab', image: 'terminal', sources: { image: { from: 'group', group: 'lab' } } });
    const s = await xenroot(['sync', '--root', root()], { env });
    expect(s.code, s.stderr).toBe(0);
    const own = `pxelinux.cfg/01-${MAC.replace(/:/g, '-')}`;
    expect(await readFile(join(tftp(), own), 'utf8')).toContain('xenroot.group=lab');

    const second = await bootQemu({ mac: MAC, tap: TAP, netns: NETNS, logFile: join(dir, 'boot2.log') });
    const two = await second.waitFor(cmdline, 150_000);
    await second.stop();
    expect(two.match[1]).toContain('xenroot.group=lab');
    expect(two.match[1]).toContain(`BOOTIF=01-${MAC.replace(/:/g, '-')}`);
    expect(await readFile(log, 'utf8')).toMatch(new RegExp(`sent \\S+/${own.replace(/\./g, '\\.')} to 10\\.77\\.0\\.\\d+`));
    const again = await xenroot(['--json', 'client', 'discover', '--leases', join(dir, 'dnsmasq.leases')], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ found: [], known: 1 });
    console.log(`discover e2e: first PXE boot ${one.ms} ms, second ${two.ms} ms, whole test ${Date.now() - t0} ms`);
  });
});
