/**
 * `xenroot doctor` on temp-dir sites: the inventory names the site's paths, `root` stands for /,
 * and each check FAILs when its part is broken on purpose and PASSes once it is mended. Real
 * files, real statfs, real TCP listeners on loopback, real dpkg.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { doctor, type DoctorOptions } from '../../src/ops/doctor.js';
import { missingPackages } from '../../src/sys/debian-packages.js';
import { footprint, footprintChanges } from '../support/footprint.js';
import { xenroot } from '../support/cli.js';

let dir: string;
let root: string;
let inv: string;
let env: Record<string, string | undefined>;

function writeSite(extra: { dhcp?: string; serve?: string; efi?: string } = {}): void {
  writeFileSync(
    inv,
    `site:
  nfsServer: 127.0.0.1
  allow: [127.0.0.0/8]
  tftpRoot: /tftpboot/linux-install
  exportRoot: /srv/xenroot
  bootDir: ${dir}/boot
  dhcp:
${extra.dhcp ?? '    server: isc\n    file: /etc/dhcp/xenroot.conf'}
  pxe:
    efiLoader: ${extra.efi ?? 'syslinux'}
${extra.serve ? `  serve:\n    listen: ${extra.serve}\n` : ''}images:
  tiny:
    root: ${dir}/tiny
    kver: 6.1.0-test
`,
  );
}

/** Writes `text` at PATH under the site's root. */
function put(path: string, text = ''): void {
  mkdirSync(join(root, path, '..'), { recursive: true });
  writeFileSync(join(root, path), text);
}

async function finding(name: string, o: DoctorOptions = {}) {
  const r = await doctor(inv, { root, ...o });
  const f = r.findings.find((x) => x.check === name);
  if (!f) throw new Error(`no finding ${name}: ${JSON.stringify(r.findings)}`);
  return f;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-doctor-'));
  root = join(dir, 'root');
  inv = join(dir, 'inventory.yaml');
  mkdirSync(join(dir, 'tiny'), { recursive: true });
  mkdirSync(root);
  env = { XENROOT_STATE_DIR: process.env.XENROOT_STATE_DIR };
  process.env.XENROOT_STATE_DIR = join(dir, 'state');
  writeSite();
});

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  if (env.XENROOT_STATE_DIR === undefined) delete process.env.XENROOT_STATE_DIR;
  else process.env.XENROOT_STATE_DIR = env.XENROOT_STATE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

describe('xenroot doctor on a temp-dir site', () => {
  it('efi-loader FAILs when syslinux.efi is missing from the TFTP root, and PASSes once both loader files are there', async () => {
    put('/tftpboot/linux-install/ldlinux.e64', 'x');
    const broken = await finding('efi-loader');
    expect(broken.status).toBe('FAIL');
    expect(broken.detail).toContain('syslinux.efi');
    expect(broken.detail).not.toContain('ldlinux.e64');
    expect(broken.fix).toMatch(/xenroot sync|apt-get install syslinux-efi/);
    put('/tftpboot/linux-install/syslinux.efi', 'x');
    expect((await finding('efi-loader')).status).toBe('PASS');
  });

  it('efi-loader asks for the ipxe loader when site.pxe.efiLoader is ipxe, and is SKIPped for none', async () => {
    writeSite({ efi: 'ipxe' });
    expect((await finding('efi-loader')).detail).toContain('snponly.efi');
    put('/tftpboot/linux-install/snponly.efi', 'x');
    expect((await finding('efi-loader')).status).toBe('PASS');
    writeSite({ efi: 'none' });
    expect((await finding('efi-loader')).status).toBe('SKIP');
  });

  it('dhcp (ISC) FAILs when dhcpd.conf does not include xenroot\'s file, names the line to add, and PASSes with the include', async () => {
    put('/etc/dhcp/dhcpd.conf', 'option domain-name "lab";\n# include "/etc/dhcp/xenroot.conf";\n');
    put('/etc/dhcp/xenroot.conf', '# generated\n');
    const broken = await finding('dhcp');
    expect(broken.status).toBe('FAIL');
    expect(broken.fix).toContain('include "/etc/dhcp/xenroot.conf";');
    put('/etc/dhcp/dhcpd.conf', 'option domain-name "lab";\ninclude "/etc/dhcp/xenroot.conf";\n');
    const mended = await finding('dhcp');
    expect(mended.status).toBe('PASS');
    expect(mended.detail).toContain('include "/etc/dhcp/xenroot.conf";');
  });

  it('dhcp (dnsmasq) FAILs when neither dnsmasq.conf nor Debian\'s CONFIG_DIR reads /etc/dnsmasq.d, and PASSes with either', async () => {
    writeSite({ dhcp: '    server: dnsmasq' });
    put('/etc/dnsmasq.conf', '#conf-dir=/etc/dnsmasq.d/,*.conf\nconf-dir=/etc/other\n');
    put('/etc/dnsmasq.d/xenroot.conf', '# generated\n');
    const broken = await finding('dhcp');
    expect(broken.status).toBe('FAIL');
    expect(broken.fix).toContain('conf-file=/etc/dnsmasq.d/xenroot.conf');
    put('/etc/default/dnsmasq', 'CONFIG_DIR=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new\n');
    expect((await finding('dhcp')).status).toBe('PASS');
    rmSync(join(root, '/etc/default/dnsmasq'));
    put('/etc/dnsmasq.conf', 'conf-dir=/etc/dnsmasq.d/,*.conf\n');
    expect((await finding('dhcp')).status).toBe('PASS');
    put('/etc/dnsmasq.conf', 'conf-dir=/etc/dnsmasq.d/,*.cfg\n');
    expect((await finding('dhcp')).status).toBe('FAIL');
  });

  it('nfs-exports FAILs when the image path is not in the kernel export table, WARNs without a table, PASSes when exported', async () => {
    expect((await finding('nfs-exports')).status).toBe('WARN');
    put('/var/lib/nfs/etab', `/srv/other\t127.0.0.0/8(ro,sync)\n`);
    const broken = await finding('nfs-exports');
    expect(broken.status).toBe('FAIL');
    expect(broken.detail).toContain(join(dir, 'tiny'));
    put('/var/lib/nfs/etab', `/srv/other\t127.0.0.0/8(ro,sync)\n${dir}/tiny\t127.0.0.0/8(ro,sync,no_root_squash)\n`);
    expect((await finding('nfs-exports')).status).toBe('PASS');
  });

  it('free-space FAILs below the minimum free where revisions go (measured at the nearest existing directory), WARNs below 10x, PASSes above', async () => {
    const broken = await finding('free-space', { minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(broken.status).toBe('FAIL');
    // /srv/xenroot/revisions does not exist under the root: its nearest existing ancestor is measured.
    expect(broken.detail).toContain(`free at ${root}`);
    expect((await finding('free-space', { minFreeBytes: 1 })).status).toBe('PASS');
    const { statfsSync } = await import('node:fs');
    const s = statfsSync(root);
    expect((await finding('free-space', { minFreeBytes: Math.floor((s.bavail * s.bsize) / 5) })).status).toBe('WARN');
  });

  it('nfs-server and serve FAIL when nothing listens, and PASS with a real TCP listener on loopback', async () => {
    const listen = () =>
      new Promise<number>((res) => {
        const s = createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => res((s.address() as { port: number }).port));
        servers.push(s);
      });
    const free = await listen();
    await new Promise((r) => servers.pop()!.close(r));
    writeSite({ serve: `127.0.0.1:${free}` });
    expect((await finding('nfs-server', { nfsPort: free })).status).toBe('FAIL');
    expect((await finding('serve')).status).toBe('FAIL');
    const nfs = await listen();
    const serve = await listen();
    writeSite({ serve: `127.0.0.1:${serve}` });
    expect((await finding('nfs-server', { nfsPort: nfs })).status).toBe('PASS');
    expect((await finding('serve')).status).toBe('PASS');
  });

  it('tftp FAILs when the TFTP root is missing, and when pxelinux.0 is not in it', async () => {
    expect((await finding('tftp')).detail).toContain('does not exist');
    mkdirSync(join(root, '/tftpboot/linux-install'), { recursive: true });
    const noLoader = await finding('tftp');
    expect(noLoader.status).toBe('FAIL');
    expect(noLoader.detail).toContain('pxelinux.0');
  });

  it('bridge FAILs when a guest needs a bridge that does not exist, and PASSes when /sys/class/net/BR/bridge is there', async () => {
    writeFileSync(inv, `${(await import('node:fs')).readFileSync(inv, 'utf8')}guests:\n  g1:\n    image: tiny\n`);
    const broken = await finding('bridge');
    expect(broken.status).toBe('FAIL');
    expect(broken.fix).toContain('ip link add xenbr0 type bridge');
    mkdirSync(join(root, '/sys/class/net/xenbr0/bridge'), { recursive: true });
    expect((await finding('bridge')).status).toBe('PASS');
  });

  it('hosts FAILs when a host\'s libvirt TCP port refuses, and PASSes with a real listener there', async () => {
    const s = createServer((c) => c.destroy());
    const port = await new Promise<number>((res) => s.listen(0, '127.0.0.1', () => res((s.address() as { port: number }).port)));
    servers.push(s);
    writeFileSync(inv, `${(await import('node:fs')).readFileSync(inv, 'utf8')}hosts:\n  h1:\n    connect: qemu+tcp://127.0.0.1:${port}/system\n`);
    expect((await finding('hosts')).status).toBe('PASS');
    await new Promise((r) => servers.pop()!.close(r));
    const down = await finding('hosts');
    expect(down.status).toBe('FAIL');
    expect(down.detail).toContain(`h1 (qemu+tcp://127.0.0.1:${port}/system: 127.0.0.1:${port} ECONNREFUSED)`);
  });

  it('changes nothing: every file under the root and the inventory are as they were', async () => {
    put('/etc/dhcp/dhcpd.conf', 'option domain-name "lab";\n');
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(inv, 'utf8');
    const before = footprint({ deep: [root, join(dir, 'tiny')], flat: [] });
    await doctor(inv, { root });
    expect(footprintChanges(before, footprint({ deep: [root, join(dir, 'tiny')], flat: [] }), [])).toEqual([]);
    expect(readFileSync(inv, 'utf8')).toBe(text);
  });
});

describe('Debian packages', () => {
  it('missingPackages names the packages dpkg does not list as installed, and not the installed ones', async () => {
    expect(await missingPackages(['dpkg', 'xenroot-no-such-package'])).toEqual(['xenroot-no-such-package']);
  });
});

describe('the doctor command', () => {
  it('prints one line per check, exits 9 when one FAILs, and gives JSON with --json', async () => {
    const e = { XENROOT_STATE_DIR: join(dir, 'state') };
    const human = await xenroot(['--inventory', inv, 'doctor', '--root', root], { env: e });
    expect(human.code).toBe(9);
    expect(human.stdout).toMatch(/^FAIL\s+efi-loader\s+/m);
    expect(human.stderr).toContain('check');
    const json = await xenroot(['--inventory', inv, '--json', 'doctor', '--root', root], { env: e });
    const r = JSON.parse(json.stdout) as { findings: { check: string; status: string }[]; failed: boolean };
    expect(r.failed).toBe(true);
    expect(r.findings.map((f) => f.check)).toEqual(['dhcp', 'tftp', 'efi-loader', 'serve', 'nfs-server', 'nfs-exports', 'free-space', 'bridge', 'hosts']);
  });

  it('--fix without --yes says the apt-get install it would run and installs nothing (dnsmasq: setup installs only dnsmasq-base)', async () => {
    writeSite({ dhcp: '    server: dnsmasq' });
    expect(await missingPackages(['dnsmasq']), 'this test needs a machine without the dnsmasq package').toEqual(['dnsmasq']);
    const e = { XENROOT_STATE_DIR: join(dir, 'state') };
    const r = await xenroot(['--inventory', inv, 'doctor', '--fix', '--root', root], { env: e });
    expect(r.stdout).toContain('would install (nothing done without --yes): apt-get install dnsmasq');
    expect(r.stderr).not.toContain('installing');
    expect(await missingPackages(['dnsmasq'])).toEqual(['dnsmasq']);
    const json = JSON.parse((await xenroot(['--inventory', inv, '--json', 'doctor', '--fix', '--root', root], { env: e })).stdout) as { missingPackages: string[]; installed: string[] };
    expect(json).toMatchObject({ installed: [] });
    expect(json.missingPackages).toContain('dnsmasq');
  });

  it('refuses --yes without --fix (exit 2) before looking at anything', async () => {
    const r = await xenroot(['--inventory', join(dir, 'none.yaml'), 'doctor', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--fix --yes');
  });
});
