/**
 * The real consumers of the generated configs: `dnsmasq --test` (dnsmasq 2.90) and `dhcpd -t -cf`
 * (ISC dhcpd 4.4) accept what `xenroot sync` writes, as a whole file and as a managed block inside
 * an admin's file, and every config of a random sample of accepted inputs; `grub-script-check`
 * (GRUB 2.06) accepts the GRUB configs. No daemon is started: they only parse. A deliberately
 * broken line is refused, so the checks can fail.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDnsmasq, type DhcpHost, type EfiLoader } from '../../src/render/dnsmasq.js';
import { renderIscDhcp } from '../../src/render/isc-dhcp.js';
import { mergeManagedBlock } from '../../src/render/exports.js';
import { renderGrubDispatcher, renderGrubEntry } from '../../src/render/grub.js';
import { xenroot } from '../support/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-dhcpd-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function dnsmasqTest(text: string): Promise<{ code: number; out: string }> {
  const f = join(dir, `dnsmasq-${n++}.conf`);
  await writeFile(f, text);
  // -C replaces /etc/dnsmasq.conf: the file is checked on its own.
  const r = await execa('dnsmasq', ['--test', '-C', f], { reject: false, all: true });
  return { code: r.exitCode ?? -1, out: String(r.all) };
}

async function dhcpdTest(fragment: string, asBlock = false): Promise<{ code: number; out: string }> {
  const frag = join(dir, `frag-${n++}.conf`);
  const main = join(dir, `dhcpd-${n++}.conf`);
  const subnet = 'authoritative;\nsubnet 10.0.2.0 netmask 255.255.255.0 {\n  range 10.0.2.100 10.0.2.200;\n}\n';
  if (asBlock) await writeFile(main, mergeManagedBlock(subnet, fragment.replace(/\n+$/, '')));
  else {
    await writeFile(frag, fragment);
    await writeFile(main, `${subnet}include "${frag}";\n`);
  }
  const r = await execa('dhcpd', ['-t', '-cf', main], { reject: false, all: true });
  return { code: r.exitCode ?? -1, out: String(r.all) };
}

describe('real DHCP config parsers', () => {
  it('dnsmasq --test and dhcpd -t accept the files `xenroot sync` writes (clients with and without static addresses, a guest)', async () => {
    const site = join(dir, 'site');
    await mkdir(join(site, 'boot/terminal'), { recursive: true });
    await mkdir(join(site, 'img'));
    await writeFile(join(site, 'boot/terminal/vmlinuz-6.1.0-99-amd64'), 'k');
    await writeFile(join(site, 'boot/terminal/initrd-6.1.0-99-amd64-pxe.img'), 'i');
    const doc = (server: string) => ({
      site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(site, 'boot'), dhcp: { server }, pxe: { efiLoader: 'syslinux' } },
      images: { terminal: { root: join(site, 'img'), kver: '6.1.0-99-amd64' } },
      guests: { Terminal: { image: 'terminal', mac: '00:16:3e:11:22:33', macSource: 'given' } },
      clients: { pc1: { mac: '52:54:00:00:00:21', image: 'terminal' }, 'odd_name': { mac: '52:54:00:00:00:22', image: 'terminal' } },
    });
    for (const server of ['dnsmasq', 'isc']) {
      const inv = join(site, `${server}.yaml`);
      await writeFile(inv, stringify(doc(server)));
      const r = await xenroot(['-i', inv, 'sync', '--root', join(site, `root-${server}`)]);
      expect(r.code, r.stderr).toBe(0);
    }
    const dns = await readFile(join(site, 'root-dnsmasq/etc/dnsmasq.d/xenroot.conf'), 'utf8');
    expect(dns).toContain('dhcp-host=52:54:00:00:00:21,pc1');
    const d = await dnsmasqTest(dns);
    expect(d.code, d.out).toBe(0);
    expect(d.out).toContain('syntax check OK');
    const isc = await readFile(join(site, 'root-isc/etc/dhcp/dhcpd.conf'), 'utf8');
    const i = await dhcpdTest(isc);
    expect(i.code, i.out).toBe(0);
  });

  it('with the boot service on, both files hand UEFI HTTP Boot clients iPXE by URL with option 60 echoed, pass the real parsers, and sync stages snponly.efi for it', async () => {
    const site = join(dir, 'site-http');
    await mkdir(join(site, 'boot/terminal'), { recursive: true });
    await mkdir(join(site, 'img'));
    await writeFile(join(site, 'boot/terminal/vmlinuz-6.1.0-99-amd64'), 'k');
    await writeFile(join(site, 'boot/terminal/initrd-6.1.0-99-amd64-pxe.img'), 'i');
    for (const server of ['dnsmasq', 'isc']) {
      const inv = join(site, `${server}.yaml`);
      const root = join(site, `root-${server}`);
      await writeFile(
        inv,
        stringify({
          site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(site, 'boot'), tftpRoot: '/tftp', dhcp: { server }, pxe: { efiLoader: 'syslinux' }, serve: { listen: '10.0.2.2:8080' } },
          images: { terminal: { root: join(site, 'img'), kver: '6.1.0-99-amd64' } },
          clients: { pc1: { mac: '52:54:00:00:00:21', image: 'terminal' } },
        }),
      );
      const r = await xenroot(['-i', inv, 'sync', '--root', root]);
      expect(r.code, r.stderr).toBe(0);
      // PXE firmware keeps its TFTP loader; the HTTP client's loader is in the tree the service sends.
      expect((await readFile(join(root, 'tftp/snponly.efi'))).equals(await readFile('/usr/lib/ipxe/snponly.efi'))).toBe(true);
      expect((await readFile(join(root, 'tftp/syslinux.efi'))).length).toBeGreaterThan(0);
      if (server === 'dnsmasq') {
        const text = await readFile(join(root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8');
        expect(text).toContain('dhcp-boot=tag:!xenroot-ipxe,tag:xenroot-efi64-http,tag:xenroot-httpclient,http://10.0.2.2:8080/boot/snponly.efi\n');
        expect(text).toContain('dhcp-option-force=tag:!xenroot-ipxe,tag:xenroot-efi64-http,tag:xenroot-httpclient,60,HTTPClient\n');
        const d = await dnsmasqTest(text);
        expect(d.code, d.out).toBe(0);
      } else {
        const text = await readFile(join(root, 'etc/dhcp/dhcpd.conf'), 'utf8');
        expect(text).toContain('filename "http://10.0.2.2:8080/boot/snponly.efi";');
        expect(text).toContain('option vendor-class-identifier "HTTPClient";');
        const i = await dhcpdTest(text);
        expect(i.code, i.out).toBe(0);
      }
    }
  });

  it('in context: Debian\'s own check of /etc/dnsmasq.d (-7 DIR,.dpkg-dist,...) accepts the drop-in beside an admin\'s config, and refuses a broken one', async () => {
    const d = join(dir, 'dnsmasq.d');
    await mkdir(d);
    await writeFile(join(d, 'admin.conf'), 'interface=lo\ndhcp-range=10.0.2.50,10.0.2.150,12h\n');
    await writeFile(join(d, 'xenroot.conf'), renderDnsmasq({ hosts: [{ kind: 'client', name: 'pc1', mac: '52:54:00:00:00:21', address: '10.0.2.50' }], proxy: false, bootServer: '10.0.2.2' }));
    const main = join(dir, 'dnsmasq-main.conf');
    await writeFile(main, '# main\n');
    const ok = await execa('dnsmasq', ['--test', '-C', main, '-7', `${d},.dpkg-dist,.dpkg-old,.dpkg-new`], { reject: false, all: true });
    expect(ok.exitCode, String(ok.all)).toBe(0);
    await writeFile(join(d, 'zz-bad.conf'), 'dhcp-bogus=1\n');
    const bad = await execa('dnsmasq', ['--test', '-C', main, '-7', `${d},.dpkg-dist,.dpkg-old,.dpkg-new`], { reject: false, all: true });
    expect(bad.exitCode).not.toBe(0);
    expect(String(bad.all)).toMatch(/bad option at line 1 of .*zz-bad\.conf/);
  });

  it('a managed block in an admin\'s dhcpd.conf and dnsmasq.conf passes both parsers; a broken fragment is refused', async () => {
    const hosts: DhcpHost[] = [{ kind: 'client', name: 'pc1', mac: '52:54:00:00:00:21', address: '10.0.2.50' }];
    const block = await dhcpdTest(renderIscDhcp({ hosts, proxy: false, bootServer: '10.0.2.2', efiLoader: 'grub' }), true);
    expect(block.code, block.out).toBe(0);
    const dns = await dnsmasqTest(mergeManagedBlock('interface=eth1\ndhcp-range=10.0.2.50,10.0.2.150,12h\n', renderDnsmasq({ hosts, proxy: false, bootServer: '10.0.2.2', efiLoader: 'ipxe' }).replace(/\n+$/, '')));
    expect(dns.code, dns.out).toBe(0);
    const broken = await dhcpdTest(renderIscDhcp({ hosts, proxy: false, bootServer: '10.0.2.2' }).replace('option xenroot-arch code 93 = unsigned integer 16;\n', ''));
    expect(broken.code).not.toBe(0);
    expect(broken.out).toContain('no option named xenroot-arch');
  });

  it('random accepted inputs: every dnsmasq and ISC config passes the real parser', async () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const samples = fc.sample(
      fc.record({
        hosts: fc.uniqueArray(
          fc.record({
            kind: fc.constantFrom('client' as const, 'guest' as const),
            name: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,10}$/), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,10}$/), fc.constantFrom('12', '7d', 'infinite', 'ignore', 'ab--cd', 'xn--x')),
            mac: fc.tuple(fc.integer({ min: 0, max: 127 }).map((b) => b * 2), octet, octet, octet, octet, octet).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':')),
            address: fc.option(fc.tuple(fc.constant(10), fc.constant(0), fc.constant(2), fc.integer({ min: 1, max: 254 })).map((o) => o.join('.')), { nil: undefined }),
          }),
          { maxLength: 8, selector: (h) => h.mac },
        ),
        proxy: fc.boolean(),
        efiLoader: fc.constantFrom<EfiLoader>('syslinux', 'ipxe', 'grub', 'none'),
        httpBase: fc.option(fc.constant('http://10.0.2.2/tftp'), { nil: undefined }),
        bootServer: fc.constantFrom('10.0.2.2', 'boot.lab.example'),
      }),
      { numRuns: 30, seed: 13 },
    );
    for (const s of samples) {
      // Two hosts cannot hold one address: a reservation list the inventory would refuse.
      const seen = new Set<string>();
      const hosts = s.hosts.map((h) => (h.address && !seen.has(h.address) && seen.add(h.address) ? h : { ...h, address: undefined }));
      const input = { hosts, proxy: s.proxy, subnet: '10.0.2.0/24', bootServer: s.bootServer, efiLoader: s.efiLoader, ...(s.httpBase ? { httpBase: s.httpBase } : {}) };
      const d = await dnsmasqTest(renderDnsmasq(input));
      expect(d.code, d.out).toBe(0);
      const i = await dhcpdTest(renderIscDhcp({ ...input, proxy: false }));
      expect(i.code, i.out).toBe(0);
    }
  });

  it('grub-script-check accepts the GRUB dispatcher and entries (per-MAC and default), and refuses a broken one', async () => {
    const entry = { label: 'terminal', kernel: 'images/terminal/vmlinuz-K', initrd: 'images/terminal/initrd-K.img', nodeInitrd: 'identity/node-pc1.cpio.gz', cmdline: 'root=nfs4:10.0.2.2:/srv/t ro ip=dhcp a=$b c={d} e;f x#y |z' };
    const files = { 'grub.cfg': renderGrubDispatcher(), 'grub.cfg-01-52-54-00-00-00-21': renderGrubEntry(entry, { mac: '52:54:00:00:00:21' }), 'grub.cfg-default': renderGrubEntry(entry), 'grub.cfg-empty': renderGrubEntry(undefined) };
    for (const [name, text] of Object.entries(files)) {
      const f = join(dir, name);
      await writeFile(f, text);
      const r = await execa('grub-script-check', [f], { reject: false, all: true });
      expect(r.exitCode, `${name}\n${text}\n${String(r.all)}`).toBe(0);
    }
    const bad = join(dir, 'grub-bad.cfg');
    await writeFile(bad, 'menuentry x {\n  linux /k\n');
    expect((await execa('grub-script-check', [bad], { reject: false })).exitCode).not.toBe(0);
  });
});
