/**
 * dnsmasq drop-in: a dhcp-host reservation per client and per guest with a pinned MAC (with its
 * static address when it has one), the boot file by client architecture (DHCP option 93, RFC
 * 4578: 0 BIOS gets pxelinux.0, 7 "EFI BC" and 9 "x86-64 EFI" get the site's EFI loader; OVMF
 * sends 7), iPXE clients (user class "iPXE") get ipxe/boot.ipxe, UEFI HTTP Boot clients (client-arch
 * 16 and vendor class "HTTPClient") get the URL of iPXE from the HTTP base with option 60 echoed
 * "HTTPClient" (UEFI 2.x, 24.7.2), and optionally proxy-DHCP mode beside an existing DHCP server. Every dhcp-boot line carries tags that exclude the others:
 * dnsmasq(8) defines no precedence between several matching ones. Pure.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';

export interface DhcpHost {
  /** "client pc-01" / "guest Terminal". */
  kind: 'client' | 'guest';
  name: string;
  mac: string;
  /** The host name handed out (default: the name, when it is one). */
  hostname?: string | undefined;
  /** A static IPv4 address the reservation hands out (not in proxy mode). */
  address?: string | undefined;
}

/** The UEFI network loader of a site (site.pxe.efiLoader); see docs/netboot.md for the choice. */
export type EfiLoader = 'syslinux' | 'ipxe' | 'grub' | 'none';

/**
 * Option 93 values of architectures xenroot serves no loader for (RFC 4578 and the IANA registry):
 * 2 IA64, 6 IA32 EFI, 10/11 ARM EFI, 15 x86 UEFI HTTP, 19 ARM64 UEFI HTTP.
 */
export const OTHER_ARCHES = [2, 6, 10, 11, 15, 19];

/** Option 93 of an x86-64 UEFI HTTP Boot client (IANA "x64 UEFI HTTP"). */
export const HTTP_BOOT_ARCH = 16;

/**
 * The loader a UEFI HTTP Boot client fetches over HTTP (in the TFTP root, sent by the boot
 * service): iPXE's snponly.efi, which drives the NIC through the firmware's SNP and then fetches
 * its script, kernel and initrds over HTTP too. syslinux.efi cannot start this way (it finds its
 * server through the PXE base code, which an HTTP boot does not run).
 */
const HTTP_BOOT_LOADER = 'snponly.efi';

/**
 * The boot URL of a UEFI HTTP Boot client: the loader at the HTTP base, or undefined without one
 * (no base: no HTTP boot answer) or with efiLoader none (no UEFI loader at all).
 */
export function httpBootUrl(httpBase: string | undefined, loader: EfiLoader): string | undefined {
  if (!httpBase || loader === 'none') return undefined;
  if (!/^https?:\/\/[^\s"]+$/.test(httpBase)) throw new RenderError(`HTTP base "${httpBase}" is not an http:// URL a UEFI HTTP Boot client can fetch from`);
  return `${httpBase.replace(/\/+$/, '')}/${HTTP_BOOT_LOADER}`;
}

/** The file a UEFI x86-64 client is handed for each loader (in the TFTP root). */
export const EFI_BOOT_FILES: Record<Exclude<EfiLoader, 'none'>, string> = {
  syslinux: 'syslinux.efi',
  ipxe: 'snponly.efi',
  grub: 'shimx64.efi',
};

/** The boot file for UEFI x86-64 clients, or undefined with efiLoader none. */
export function efiBootFile(loader: EfiLoader): string | undefined {
  return loader === 'none' ? undefined : EFI_BOOT_FILES[loader];
}

export interface DhcpInput {
  hosts: DhcpHost[];
  /** Proxy-DHCP: another server hands out addresses, dnsmasq only answers PXE. */
  proxy: boolean;
  /** CIDR of the client network (needed by proxy mode). */
  subnet?: string;
  /** Where the boot server is (TFTP / next-server); a dotted IPv4 or a host name. */
  bootServer: string;
  /** iPXE fetches its script over HTTP from here when set, and UEFI HTTP Boot clients their loader (httpBootUrl). */
  httpBase?: string;
  /** The loader of UEFI x86-64 clients (default syslinux). */
  efiLoader?: EfiLoader;
}

/**
 * A DHCP host name: one RFC 1123 label that dnsmasq reads as a host name, or undefined. dnsmasq's
 * dhcp-host parser (option.c, 2.90) reads a field of digits with an optional s/m/h/d/w suffix as a
 * lease time, "infinite" as a lease time and "ignore" as "never answer this MAC"; with IDN support
 * it refuses a label with "--" in its third and fourth characters (RFC 5891 4.2.3.1) and then
 * refuses the whole file. Such names are reserved without a host name.
 */
export function dhcpHostname(name: string): string | undefined {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name)) return undefined;
  if (/^\d+[smhdwSMHDW]?$/.test(name) || name === 'infinite' || name === 'ignore') return undefined;
  if (name.slice(2, 4) === '--') return undefined;
  return name;
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
  const efi = efiBootFile(input.efiLoader ?? 'syslinux');
  lines.push(
    '# client-arch (DHCP option 93): 7 EFI BC (what x86-64 UEFI firmware such as OVMF sends) and 9 x86-64 EFI',
    'dhcp-match=set:xenroot-efi64,option:client-arch,7',
    'dhcp-match=set:xenroot-efi64,option:client-arch,9',
    '# architectures xenroot has no loader for (2 IA64, 6 IA32 EFI, 10/11 ARM EFI) get no boot file, never a BIOS one',
    ...OTHER_ARCHES.map((a) => `dhcp-match=set:xenroot-other,option:client-arch,${a}`),
    'dhcp-userclass=set:xenroot-ipxe,iPXE',
    `# UEFI HTTP Boot (x64, client-arch ${HTTP_BOOT_ARCH}) announces vendor class "HTTPClient:Arch:00016:..." (dnsmasq matches a substring)`,
    `dhcp-match=set:xenroot-efi64-http,option:client-arch,${HTTP_BOOT_ARCH}`,
    'dhcp-vendorclass=set:xenroot-httpclient,HTTPClient',
  );
  const httpUrl = httpBootUrl(input.httpBase, input.efiLoader ?? 'syslinux');
  if (input.proxy) {
    if (!input.subnet) throw new RenderError('site.dhcp.proxy needs site.dhcp.subnet (the client network, e.g. 192.168.1.0/24)');
    const { network, netmask } = cidrParts(input.subnet);
    lines.push(
      '# proxy-DHCP: the existing DHCP server hands out addresses, dnsmasq answers PXE requests',
      `dhcp-range=${network},proxy,${netmask}`,
      // A name without a suffix gets ".0" appended by the PXE client; one with a suffix is used as is.
      'pxe-service=tag:!xenroot-ipxe,x86PC,"xenroot network boot",pxelinux',
    );
    if (efi) for (const csa of ['BC_EFI', 'x86-64_EFI']) lines.push(`pxe-service=tag:!xenroot-ipxe,${csa},"xenroot network boot",${efi}`);
    else lines.push('# UEFI clients: no loader (site.pxe.efiLoader: none)');
    lines.push(`dhcp-boot=tag:xenroot-ipxe,${ipxeBoot}${server}`);
    lines.push('# UEFI HTTP Boot clients: not answered in proxy mode (dnsmasq\'s proxy-DHCP answers PXE clients only)');
  } else {
    lines.push(`dhcp-boot=tag:!xenroot-ipxe,tag:!xenroot-efi64,tag:!xenroot-efi64-http,tag:!xenroot-other,pxelinux.0${server}`);
    if (efi) lines.push(`dhcp-boot=tag:!xenroot-ipxe,tag:xenroot-efi64,${efi}${server}`);
    else lines.push('# UEFI clients: no loader (site.pxe.efiLoader: none)');
    lines.push(`dhcp-boot=tag:xenroot-ipxe,${ipxeBoot}${server}`);
    if (httpUrl)
      lines.push(
        '# UEFI HTTP Boot: the loader\'s full URL as the boot file, and option 60 echoed "HTTPClient" (the firmware ignores an offer without it)',
        'dhcp-option-force=tag:!xenroot-ipxe,tag:xenroot-efi64-http,tag:xenroot-httpclient,60,HTTPClient',
        `dhcp-boot=tag:!xenroot-ipxe,tag:xenroot-efi64-http,tag:xenroot-httpclient,${httpUrl}`,
      );
    else lines.push('# UEFI HTTP Boot clients: no answer (no HTTP base: site.serve or site.pxe.httpBase; or site.pxe.efiLoader: none)');
  }
  const hosts = [...input.hosts].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
  for (const h of hosts) {
    const hostname = dhcpHostname(h.hostname ?? h.name);
    // dnsmasq has no trailing comments: a name that is not a host name goes on its own line.
    if (!hostname) lines.push(`# ${h.kind} ${h.name}: not a valid DHCP host name, reserved without a name`);
    const address = h.address && !input.proxy ? `,${checkIpv4(h.address, h)}` : '';
    lines.push(`dhcp-host=${h.mac}${address}${hostname ? `,${hostname}` : ''}`);
  }
  lines.push('');
  return lines.join('\n');
}

/** A static address as a reservation carries it: a dotted IPv4 (RenderError otherwise). */
export function checkIpv4(address: string, h: { kind: string; name: string }): string {
  if (!IPV4.test(address) || address.split('.').some((o) => Number(o) > 255)) throw new RenderError(`${h.kind} ${h.name}: address "${address}" is not an IPv4 address a DHCP reservation can hand out`);
  return address;
}
