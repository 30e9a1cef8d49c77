/**
 * With the boot service on (site.serve), iPXE fetches its scripts, kernel and initrds over HTTP
 * from the service's /boot, DHCP hands iPXE the service's boot.ipxe URL, and a node's identity
 * piece (host private keys: the service never sends it) stays on TFTP. Without it, TFTP as before.
 */
import { describe, expect, it } from 'vitest';
import { planSync } from '../../src/deploy/plan.js';
import { inventory } from '../support/model.js';
import { readIpxe } from '../support/bootmenu-parse.js';

const staged = new Map([['terminal', { kernelSource: '/b/k', kernelSize: 1, initrdSource: '/b/i', initrdSize: 1, kernel: 'images/terminal/vmlinuz-K-h', initrd: 'images/terminal/initrd-K-pxe-h.img' }]]);
const syslinux = { pxelinux0: '/p', pxelinux0Size: 1, ldlinux: '/l', ldlinuxSize: 1 };
const identities = new Map([['client:a', { key: 'k', build: () => new Uint8Array() }]]);

function planned(site: Record<string, unknown>) {
  const data = inventory({ site, clients: { a: { mac: '00:16:3e:00:00:0a', image: 'terminal' } } });
  const plan = planSync({ data, inventoryFile: '/g/inventory.yaml', staged, syslinux, exportsDirExists: false, dhcpShared: false, identities });
  const text = (suffix: string) => {
    const f = plan.files.find((x) => x.path.endsWith(suffix) && x.kind === 'text');
    return f && f.kind === 'text' ? f.content : '';
  };
  const own = plan.files.find((f) => f.kind === 'text' && f.path.includes('/entries/') && f.path.endsWith('/ipxe'));
  return { ipxe: own && own.kind === 'text' ? own.content : '', boot: text('ipxe/boot.ipxe'), dhcp: text('xenroot.conf') };
}

describe('iPXE over HTTP from the boot service', () => {
  it('fetches kernel and image initrd from the service and the identity piece over TFTP', () => {
    const { ipxe, boot, dhcp } = planned({ serve: { listen: '10.0.2.2:8080' } });
    const booted = readIpxe(ipxe, { 'next-server': '10.0.2.2' });
    expect(booted.kernel).toBe('http://10.0.2.2:8080/boot/images/terminal/vmlinuz-K-h');
    expect(booted.initrds).toEqual(['http://10.0.2.2:8080/boot/images/terminal/initrd-K-pxe-h.img', 'tftp://10.0.2.2/identity/node-a.cpio.gz']);
    expect(boot).toContain('chain --autofree http://10.0.2.2:8080/boot/nodes/');
    expect(dhcp).toContain('http://10.0.2.2:8080/boot/ipxe/boot.ipxe');
  });

  it('listens by default on the NFS server\'s address, port 8080', () => {
    const { ipxe } = planned({ nfsServer: '10.0.2.9', serve: {} });
    expect(readIpxe(ipxe, {}).kernel).toBe('http://10.0.2.9:8080/boot/images/terminal/vmlinuz-K-h');
  });

  it('keeps everything on TFTP when the site does not run the service', () => {
    const { ipxe, dhcp } = planned({});
    const booted = readIpxe(ipxe, {});
    expect(booted.kernel).toBe('/images/terminal/vmlinuz-K-h');
    expect(booted.initrds).toEqual(['/images/terminal/initrd-K-pxe-h.img', '/identity/node-a.cpio.gz']);
    expect(dhcp).not.toContain('http://');
  });
});
