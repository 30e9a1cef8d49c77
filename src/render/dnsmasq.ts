/**
 * dnsmasq drop-in: a dhcp-host reservation per client and per guest with a pinned MAC,
 * dhcp-boot pxelinux.0 (iPXE clients get ipxe/boot.ipxe), and optionally proxy-DHCP mode beside
 * an existing DHCP server. Pure.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';

export interface DhcpHost {
  /** "client pc-01" / "guest Terminal". */
  kind: 'client' | 'guest';
  name: string;
  mac: string;
}

export interface DhcpInput {
  hosts: DhcpHost[];
  /** Proxy-DHCP: another server hands out addresses, dnsmasq only answers PXE. */
  proxy: boolean;
  /** CIDR of the client network (needed by proxy mode). */
  subnet?: string;
  /** Where the boot server is (TFTP / next-server); a dotted IPv4 or a host name. */
  bootServer: string;
  /** iPXE fetches its script over HTTP from here when set. */
  httpBase?: string;
}

/** A DHCP host name: one RFC 1123 label, or undefined when the name cannot be one. */
export function dhcpHostname(name: string): string | undefined {
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name) ? name : undefined;
}

export function cidrParts(cidr: string): { network: string; netmask: string } {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new RenderError(`site.dhcp.subnet "${cidr}" is not an IPv4 CIDR such as 192.168.1.0/24`);
  const bits = Number(m[5]);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const addr = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
  return { network: dotted((addr & mask) >>> 0), netmask: dotted(mask) };
}

const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

export function renderDnsmasq(input: DhcpInput): string {
  const lines = [generatedHeader()];
  const server = IPV4.test(input.bootServer) ? `,,${input.bootServer}` : '';
  const ipxeBoot = input.httpBase ? `${input.httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe';
  lines.push('dhcp-userclass=set:xenroot-ipxe,iPXE');
  if (input.proxy) {
    if (!input.subnet) throw new RenderError('site.dhcp.proxy needs site.dhcp.subnet (the client network, e.g. 192.168.1.0/24)');
    const { network, netmask } = cidrParts(input.subnet);
    lines.push(
      '# proxy-DHCP: the existing DHCP server hands out addresses, dnsmasq answers PXE requests',
      `dhcp-range=${network},proxy,${netmask}`,
      'pxe-service=tag:!xenroot-ipxe,x86PC,"xenroot network boot",pxelinux',
      `dhcp-boot=tag:xenroot-ipxe,${ipxeBoot}${server}`,
    );
  } else {
    lines.push(`dhcp-boot=tag:!xenroot-ipxe,pxelinux.0${server}`, `dhcp-boot=tag:xenroot-ipxe,${ipxeBoot}${server}`);
  }
  const hosts = [...input.hosts].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
  for (const h of hosts) {
    const hostname = dhcpHostname(h.name);
    // dnsmasq has no trailing comments: a name that is not a host name goes on its own line.
    if (!hostname) lines.push(`# ${h.kind} ${h.name}: not a valid DHCP host name, reserved without a name`);
    lines.push(`dhcp-host=${h.mac}${hostname ? `,${hostname}` : ''}`);
  }
  lines.push('');
  return lines.join('\n');
}
