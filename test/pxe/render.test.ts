import { describe, expect, it } from 'vitest';
import { pxelinuxMacName, renderPxelinux } from '../../src/render/pxelinux.js';
import { renderIpxeBoot, renderIpxeEntry } from '../../src/render/ipxe.js';
import { renderDnsmasq, cidrParts } from '../../src/render/dnsmasq.js';
import { renderIscDhcp } from '../../src/render/isc-dhcp.js';
import { BLOCK_BEGIN, BLOCK_END, mergeManagedBlock, renderExportLines } from '../../src/render/exports.js';
import { bootEntry, planSync } from '../../src/deploy/plan.js';
import { inventory } from '../support/model.js';
import { RenderError } from '../../src/sys/errors.js';

const entry = { label: 'terminal', kernel: 'images/terminal/vmlinuz-X', initrd: 'images/terminal/initrd-X.img', cmdline: 'root=nfs4:10.0.2.2:/srv/t ro ip=dhcp' };

describe('pxelinux file names', () => {
  it.each([
    ['00:16:3E:AA:BB:CC', '01-00-16-3e-aa-bb-cc'],
    ['00-16-3e-aa-bb-cc', '01-00-16-3e-aa-bb-cc'],
    ['00-16-3E-aA-Bb-cC', '01-00-16-3e-aa-bb-cc'],
    ['00163eaabbcc', '01-00-16-3e-aa-bb-cc'],
    ['52:54:00:12:34:56', '01-52-54-00-12-34-56'],
  ])('names the per-MAC file of %s as pxelinux looks it up (%s)', (mac, name) => {
    expect(pxelinuxMacName(mac)).toBe(name);
  });

  it('refuses a MAC that is not one', () => {
    expect(() => pxelinuxMacName('00:16:3e:aa:bb')).toThrow(RenderError);
  });
});

describe('pxelinux config', () => {
  it('boots the entry without a prompt with initrd= first and IPAPPEND 2', () => {
    const text = renderPxelinux({ entries: [entry] });
    expect(text).toContain('DEFAULT terminal\nPROMPT 0\nTIMEOUT 0');
    expect(text).toContain('  KERNEL images/terminal/vmlinuz-X\n  APPEND initrd=images/terminal/initrd-X.img root=nfs4:10.0.2.2:/srv/t ro ip=dhcp\n  IPAPPEND 2');
  });

  it('falls back to a local boot when there is nothing to boot', () => {
    expect(renderPxelinux({ entries: [] })).toContain('LOCALBOOT 0');
  });

  it('refuses a line break in the command line', () => {
    expect(() => renderPxelinux({ entries: [{ ...entry, cmdline: 'a\nKERNEL evil' }] })).toThrow(RenderError);
  });
});

describe('iPXE scripts', () => {
  it('loads kernel and initrd over TFTP by absolute path, or over HTTP with a base URL', () => {
    const tftp = renderIpxeEntry(entry);
    expect(tftp).toMatch(/^#!ipxe\n/);
    expect(tftp).toContain('kernel /images/terminal/vmlinuz-X initrd=initrd-X.img root=nfs4:10.0.2.2:/srv/t ro ip=dhcp BOOTIF=01-${netX/mac:hexhyp}');
    // A machine's own script names its MAC literally: it was chosen by that MAC.
    expect(renderIpxeEntry(entry, { mac: '00:16:3E:AA:BB:CC' })).toContain(' BOOTIF=01-00-16-3e-aa-bb-cc\n');
    expect(tftp).toContain('initrd /images/terminal/initrd-X.img\nboot');
    const http = renderIpxeEntry(entry, { httpBase: 'http://10.0.0.1/tftp/' });
    expect(http).toContain('kernel http://10.0.0.1/tftp/images/terminal/vmlinuz-X ');
    expect(http).toContain('initrd http://10.0.0.1/tftp/images/terminal/initrd-X.img');
  });

  it("chains the booting NIC's node script and falls back to default.ipxe", () => {
    expect(renderIpxeBoot({ nodesDir: 'nodes' })).toContain('chain --autofree /nodes/${netX/mac:hexhyp}/ipxe || chain --autofree /ipxe/default.ipxe');
    expect(renderIpxeBoot({ nodesDir: 'nodes' })).not.toContain('net0');
  });
});

describe('DHCP', () => {
  const hosts = [
    { kind: 'client' as const, name: 'pc-01', mac: '00:16:3e:00:00:01' },
    { kind: 'guest' as const, name: 'Terminal', mac: '00:16:3e:00:00:02' },
    { kind: 'client' as const, name: 'odd_name', mac: '00:16:3e:00:00:03' },
  ];

  it('writes a dhcp-host per client and pinned guest and boots pxelinux.0 (iPXE gets its script)', () => {
    const text = renderDnsmasq({ hosts, proxy: false, bootServer: '10.0.0.1' });
    expect(text).toContain('dhcp-host=00:16:3e:00:00:01,pc-01\n');
    expect(text).toContain('dhcp-host=00:16:3e:00:00:02,Terminal\n');
    expect(text).toContain('dhcp-host=00:16:3e:00:00:03\n');
    expect(text).toContain('dhcp-boot=tag:!xenroot-ipxe,tag:!xenroot-efi64,tag:!xenroot-efi64-http,tag:!xenroot-other,pxelinux.0,,10.0.0.1');
    expect(text).toContain('dhcp-boot=tag:!xenroot-ipxe,tag:xenroot-efi64,syslinux.efi,,10.0.0.1');
    expect(text).toContain('dhcp-boot=tag:xenroot-ipxe,ipxe/boot.ipxe,,10.0.0.1');
    expect(text).not.toContain('proxy');
    // dnsmasq has no trailing comments
    for (const l of text.split('\n')) if (!l.startsWith('#')) expect(l).not.toContain('#');
  });

  it('proxy mode answers PXE beside another DHCP server on the site subnet', () => {
    const text = renderDnsmasq({ hosts, proxy: true, subnet: '192.168.7.0/24', bootServer: '192.168.7.1' });
    expect(text).toContain('dhcp-range=192.168.7.0,proxy,255.255.255.0');
    expect(text).toContain('pxe-service=tag:!xenroot-ipxe,x86PC,"xenroot network boot",pxelinux');
    expect(() => renderDnsmasq({ hosts, proxy: true, bootServer: 'x' })).toThrow(/subnet/);
    expect(cidrParts('10.1.2.3/16')).toEqual({ network: '10.1.0.0', netmask: '255.255.0.0' });
  });

  it('writes ISC dhcpd host blocks with the boot file', () => {
    const text = renderIscDhcp({ hosts, proxy: false, bootServer: '10.0.0.1' });
    expect(text).toContain('next-server 10.0.0.1;');
    expect(text).toContain('filename "pxelinux.0";');
    expect(text).toContain('host xenroot-client-pc-01 { hardware ethernet 00:16:3e:00:00:01; option host-name "pc-01"; }');
    expect(text).toContain('host xenroot-client-odd-name { hardware ethernet 00:16:3e:00:00:03; }');
    expect(text).toContain('host xenroot-guest-Terminal');
  });
});

describe('exports', () => {
  it('restricts each export to the site networks with the site options, insecure when configured', () => {
    const lines = renderExportLines({ exports: [{ image: 'a', path: '/srv/a' }, { image: 'b', path: '/srv/a' }], allow: ['10.0.0.0/24', 'lab*.example'], options: 'ro,no_root_squash,no_subtree_check', insecure: true });
    expect(lines).toEqual(['# image a, b\n/srv/a 10.0.0.0/24(ro,no_root_squash,no_subtree_check,insecure) lab*.example(ro,no_root_squash,no_subtree_check,insecure)']);
  });

  it('never exports to * unless site.allow says so', () => {
    expect(renderExportLines({ exports: [{ image: 'a', path: '/srv/a' }], allow: [], options: 'ro', insecure: false })).toEqual([]);
    expect(renderExportLines({ exports: [{ image: 'a', path: '/srv/a' }], allow: ['*'], options: 'ro', insecure: false })).toEqual(['# image a\n/srv/a *(ro)']);
  });

  it('replaces only its marked block and keeps every other line byte for byte', () => {
    const foreign = '# admin\n/home 10.0.0.0/8(rw)\n\n/opt  *(ro)   \n';
    const once = mergeManagedBlock(foreign, '/srv/a x(ro)');
    expect(once).toBe(`${foreign}${BLOCK_BEGIN}\n/srv/a x(ro)\n${BLOCK_END}\n`);
    const withMore = once + '/after 1.2.3.4(ro)\n';
    const twice = mergeManagedBlock(withMore, '/srv/b y(ro)');
    expect(twice).toBe(`${foreign}${BLOCK_BEGIN}\n/srv/b y(ro)\n${BLOCK_END}\n/after 1.2.3.4(ro)\n`);
    expect(mergeManagedBlock(twice, undefined)).toBe(`${foreign}/after 1.2.3.4(ro)\n`);
    expect(() => mergeManagedBlock(`${BLOCK_BEGIN}\nno end\n`, 'x')).toThrow(RenderError);
  });
});

describe('planner', () => {
  const staged = new Map([['terminal', { kernelSource: '/b/k', kernelSize: 1, initrdSource: '/b/i', initrdSize: 1, kernel: 'images/terminal/vmlinuz-K-h', initrd: 'images/terminal/initrd-K-pxe-h.img' }]]);
  const syslinux = { pxelinux0: '/p', pxelinux0Size: 1, ldlinux: '/l', ldlinuxSize: 1 };

  it('builds the client append line with buildCmdline: the client root override, image then client append', () => {
    const data = inventory({
      images: { terminal: { root: '/srv/xenroot/terminal', kver: '6.1.0-1-amd64', append: 'quiet' } },
      clients: { a: { mac: '00:16:3e:00:00:0a', image: 'terminal', append: 'console=ttyS0', root: '10.9.9.9:/other' } },
    });
    const e = bootEntry(data, 'terminal', staged.get('terminal')!, data.clients.a);
    expect(e.cmdline).toBe('root=nfs4:10.9.9.9:/other ro ip=dhcp console=ttyS0,115200 console=tty0 selinux=0 quiet console=ttyS0');
    expect(bootEntry(data, 'terminal', staged.get('terminal')!).cmdline).toContain('root=nfs4:10.0.2.2:/srv/xenroot/terminal ');
  });

  it('plans per-client pxelinux files, one iPXE script, DHCP and exports from the model alone', () => {
    const data = inventory({ clients: { a: { mac: '00-16-3E-00-00-0A', image: 'terminal' } }, guests: { g: { image: 'terminal', mac: '00:16:3e:00:00:0b' } } });
    const plan = planSync({ data, inventoryFile: '/g/inventory.yaml', staged, syslinux, exportsDirExists: false, dhcpShared: false });
    const paths = plan.files.map((f) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/g/guests/g.cfg',
        '/g/guests/g.xml',
        '/tftpboot/linux-install/pxelinux.0',
        '/tftpboot/linux-install/ldlinux.c32',
        '/tftpboot/linux-install/images/terminal/vmlinuz-K-h',
        '/tftpboot/linux-install/pxelinux.cfg/default',
        '/tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-0a',
        '/tftpboot/linux-install/ipxe/boot.ipxe',
        '/etc/dnsmasq.d/xenroot.conf',
        '/etc/exports',
      ]),
    );
    const dhcp = plan.files.find((f) => f.path === '/etc/dnsmasq.d/xenroot.conf');
    expect(dhcp?.kind === 'text' && dhcp.content).toContain('dhcp-host=00:16:3e:00:00:0b,g');
    expect(plan.files.find((f) => f.path === '/etc/exports')?.kind).toBe('block');
    const withDir = planSync({ data, inventoryFile: '/g/inventory.yaml', staged, syslinux, exportsDirExists: true, dhcpShared: true });
    expect(withDir.files.find((f) => f.path === '/etc/exports.d/xenroot.exports')?.kind).toBe('text');
    expect(withDir.files.find((f) => f.path === '/etc/dnsmasq.d/xenroot.conf')?.kind).toBe('block');
  });
});
