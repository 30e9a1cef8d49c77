/**
 * Kea against the real daemon: kea-dhcp4 2.2 (as root, inside a network namespace this test
 * makes) serves DHCP on a bridge there with a config that includes the file `xenroot sync --root`
 * wrote, as docs/netboot.md tells the admin; dnsmasq serves TFTP only (no DHCP). DHCP clients of
 * each kind (busybox udhcpc, on a veth in a second namespace, with the
 * options a BIOS ROM, UEFI firmware, UEFI HTTP Boot and an ARM EFI machine send) get the loader
 * meant for them; a MAC that is no node gets an address and no boot file. Not here yet: a QEMU PXE
 * client booting through Kea (its console stayed empty in the one run it had; the test is on the
 * branch it was written on). Nothing leaves the namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { testKernel, stageKernelOnlyBoot } from '../support/kernel.js';
import { stopAllQemu } from '../support/qemu.js';
import { listNetns } from '../support/leaks.js';
import { xenroot } from '../support/cli.js';

const MAC = '52:54:00:d1:5c:21';
const PROBE_MAC = '52:54:00:d1:5c:22';
const STRANGER = '52:54:00:d1:5c:99';
const NETNS = `xenroot-kea-${process.pid}-1`;
const CLIENT_NS = `xenroot-keac-${process.pid}-1`;
const BR = 'xrkeabr0';
const TAP = 'xrkea0';
const SERVER = '10.79.0.1';
let dir: string;
let env: Record<string, string>;
let kea: ChildProcess | undefined;
let dnsmasq: ChildProcess | undefined;
const root = () => join(dir, 'root');
const tftp = () => join(root(), 'tftpboot/linux-install');
const ns = (...args: string[]) => execa('ip', ['-n', NETNS, ...args]);
const cns = (...args: string[]) => execa('ip', ['-n', CLIENT_NS, ...args]);

process.on('exit', () => {
  kea?.kill('SIGKILL');
  dnsmasq?.kill('SIGKILL');
});

async function waitForFile(path: string, pattern: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await readFile(path, 'utf8').catch(() => '');
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`${path} did not show ${pattern} within ${ms} ms:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function inventoryText(serve: boolean): string {
  return stringify({
    // dnsmasq sends files as nobody: the clients' identity pieces (0600) must be its own.
    site: {
      nfsServer: SERVER,
      allow: ['10.79.0.0/24'],
      bootDir: join(dir, 'boot'),
      tftpRoot: '/tftpboot/linux-install',
      dhcp: { server: 'kea' },
      pxe: { tftpUser: 'nobody' },
      ...(serve ? { serve: { listen: `${SERVER}:8080` } } : {}),
    },
    images: { terminal: { root: join(dir, 'img'), kver: kver } },
    guests: {},
    clients: {
      pc1: { mac: MAC, image: 'terminal', address: '10.79.0.50/24', append: 'console=ttyS0 xenroot.kea=pc1' },
      probe: { mac: PROBE_MAC, image: 'terminal', address: '10.79.0.51/24' },
    },
  });
}
let kver = '';

/** One DHCP exchange of busybox udhcpc from the client namespace: the options it was handed. */
async function probe(mac: string, args: string[]): Promise<Record<string, string>> {
  await cns('link', 'set', 'xrkeac1', 'down');
  await cns('link', 'set', 'xrkeac1', 'address', mac);
  await cns('link', 'set', 'xrkeac1', 'up');
  const out = join(dir, 'probe.env');
  await rm(out, { force: true });
  const r = await execa('ip', ['netns', 'exec', CLIENT_NS, 'busybox', 'udhcpc', '-f', '-q', '-n', '-t', '5', '-T', '2', '-i', 'xrkeac1', '-s', join(dir, 'probe.sh'), '-O', '60', ...args], { reject: false, all: true });
  const text = await readFile(out, 'utf8').catch(() => '');
  expect(text, r.all).not.toBe('');
  return Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

beforeAll(async () => {
  const k = await testKernel();
  kver = k.kver;
  dir = await mkdtemp(join(tmpdir(), 'xenroot-kea-'));
  await chmod(dir, 0o755); // dnsmasq serves TFTP as nobody
  await stageKernelOnlyBoot(dir, k);
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(inventory, inventoryText(false));
  env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
  const s = await xenroot(['sync', '--root', root()], { env });
  expect(s.code, s.stderr).toBe(0);
  const include = join(root(), 'etc/kea/xenroot-dhcp4.json');
  expect(await readFile(include, 'utf8')).toContain(`"hw-address":"${MAC}"`);
  await writeFile(join(dir, 'probe.sh'), `#!/bin/sh\n[ "$1" = bound ] && env | grep -E '^(ip|boot_file|siaddr|hostname|vendor)=' > ${join(dir, 'probe.env')}\nexit 0\n`, { mode: 0o755 });

  // The server's namespace: a bridge with the QEMU client's tap and one end of a veth pair whose
  // other end is in the probes' namespace.
  await execa('ip', ['netns', 'add', NETNS]);
  await execa('ip', ['netns', 'add', CLIENT_NS]);
  await ns('link', 'set', 'lo', 'up');
  await ns('link', 'add', BR, 'type', 'bridge');
  await ns('tuntap', 'add', 'dev', TAP, 'mode', 'tap');
  await ns('link', 'add', 'xrkeac0', 'type', 'veth', 'peer', 'name', 'xrkeac1', 'netns', CLIENT_NS);
  for (const dev of [TAP, 'xrkeac0']) {
    await ns('link', 'set', dev, 'master', BR);
    await ns('link', 'set', dev, 'up');
  }
  await ns('addr', 'add', `${SERVER}/24`, 'dev', BR);
  await ns('link', 'set', BR, 'up');
  await cns('link', 'set', 'lo', 'up');
  // The probes' end up before Kea starts: a bridge without a running port has no carrier, and Kea
  // opens no socket on an interface that is not running (it answered only after a reload).
  await cns('link', 'set', 'xrkeac1', 'up');

  // The admin's kea-dhcp4.conf: xenroot's members included first in the Dhcp4 map (docs/netboot.md).
  const conf = join(dir, 'kea-dhcp4.conf');
  await writeFile(
    conf,
    `{
  "Dhcp4": {
    <?include "${include}"?>,
    "interfaces-config": { "interfaces": [ "${BR}" ] },
    "lease-database": { "type": "memfile", "name": "${join(dir, 'kea-leases4.csv')}", "lfc-interval": 0 },
    "valid-lifetime": 600,
    "subnet4": [ { "id": 1, "subnet": "10.79.0.0/24", "pools": [ { "pool": "10.79.0.100 - 10.79.0.150" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "${join(dir, 'kea.log')}" } ], "severity": "INFO" } ]
  }
}
`,
  );
  const keaEnv = { ...process.env, KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir };
  await execa('ip', ['netns', 'exec', NETNS, 'kea-dhcp4', '-t', conf], { env: keaEnv });
  kea = spawn('ip', ['netns', 'exec', NETNS, 'kea-dhcp4', '-c', conf], { stdio: 'ignore', env: keaEnv });
  await waitForFile(join(dir, 'kea.log'), /DHCP4_STARTED/, 30_000);

  const dconf = join(dir, 'dnsmasq.conf');
  // As root: the suite's temp dir (0700) is closed to the nobody dnsmasq would drop to.
  await writeFile(dconf, ['port=0', 'user=root', `interface=${BR}`, 'bind-interfaces', 'enable-tftp', `tftp-root=${tftp()}`, `log-facility=${join(dir, 'dnsmasq.log')}`, ''].join('\n'));
  dnsmasq = spawn('nsenter', [`--net=/run/netns/${NETNS}`, 'dnsmasq', '--keep-in-foreground', `--conf-file=${dconf}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`], { stdio: 'ignore' });
  await waitForFile(join(dir, 'dnsmasq.log'), /TFTP root is/, 20_000);
});

afterAll(async () => {
  await stopAllQemu();
  for (const p of [kea, dnsmasq])
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
  await execa('ip', ['netns', 'del', CLIENT_NS], { reject: false });
  await execa('ip', ['netns', 'del', NETNS], { reject: false });
  if (dir) await rm(dir, { recursive: true, force: true });
  const left = await listNetns();
  expect(left).not.toContain(NETNS);
  expect(left).not.toContain(CLIENT_NS);
});

describe('a real kea-dhcp4 with the file xenroot wrote', () => {
  it('hands each kind of client the loader meant for it, with its reservation; a stranger gets an address and no boot file', async () => {
    const bios = await probe(PROBE_MAC, ['-x', '0x5d:0000']);
    expect(bios).toEqual({ ip: '10.79.0.51', hostname: 'probe', boot_file: 'pxelinux.0', siaddr: SERVER });
    expect(await probe(PROBE_MAC, ['-x', '0x5d:0007'])).toMatchObject({ ip: '10.79.0.51', boot_file: 'syslinux.efi', siaddr: SERVER });
    expect(await probe(PROBE_MAC, ['-x', '0x5d:0009'])).toMatchObject({ boot_file: 'syslinux.efi' });
    expect(await probe(PROBE_MAC, ['-x', '0x5d:0000', '-x', '0x4d:69505845'])).toMatchObject({ boot_file: 'ipxe/boot.ipxe', siaddr: SERVER });
    const arm = await probe(PROBE_MAC, ['-x', '0x5d:000b']);
    expect(arm.ip).toBe('10.79.0.51');
    expect(arm.boot_file).toBeUndefined();
    // Without the boot service UEFI HTTP Boot gets no loader (nothing serves http://).
    expect((await probe(PROBE_MAC, ['-x', '0x5d:0010', '-V', 'HTTPClient:Arch:00016'])).boot_file).toBeUndefined();
    const stranger = await probe(STRANGER, ['-x', '0x5d:0000']);
    expect(stranger.ip).toMatch(/^10\.79\.0\.1[0-4]\d$|^10\.79\.0\.150$/);
    expect(stranger.boot_file).toBeUndefined();
    expect(stranger.hostname).toBeUndefined();
  });

  it('after a sync with the boot service on and a SIGHUP (Kea re-reads its config), UEFI HTTP Boot gets option 60 HTTPClient and the loader from xenroot serve', async () => {
    await writeFile(env.XENROOT_INVENTORY!, inventoryText(true));
    const s = await xenroot(['sync', '--root', root()], { env });
    expect(s.code, s.stderr).toBe(0);
    const reloaded = (await readFile(join(dir, 'kea.log'), 'utf8')).split('\n').length;
    kea!.kill('SIGHUP');
    // The reload is done when Kea logs its new configuration after the line count seen before it.
    const end = Date.now() + 30_000;
    while (!(await readFile(join(dir, 'kea.log'), 'utf8')).split('\n').slice(reloaded).some((l) => /DHCP4_CONFIG_COMPLETE/.test(l))) {
      if (Date.now() > end) throw new Error('kea-dhcp4 did not reload');
      await new Promise((r) => setTimeout(r, 100));
    }
    const http = await probe(PROBE_MAC, ['-x', '0x5d:0010', '-V', 'HTTPClient:Arch:00016']);
    expect(http).toMatchObject({ ip: '10.79.0.51', vendor: 'HTTPClient', boot_file: `http://${SERVER}:8080/boot/snponly.efi` });
  });
});
