/**
 * Kea DHCPv4 (kea-dhcp4) include file: xenroot's members of the admin's `"Dhcp4": { ... }` map,
 * pulled in with `<?include "/etc/kea/xenroot-dhcp4.json"?>,` (Kea's config is JSON with `#`,
 * `//` and `/* *\/` comments, and includes). The file holds three members and nothing else:
 *
 * - `"reservations-global": true`: the reservations below are global (any subnet), so xenroot
 *   needs no knowledge of the admin's subnets; each hands out its node's host name and, where it
 *   has one, its static address, and puts the client in the class `xenroot-node`.
 * - `"client-classes"`: the loader by client kind, for members of `xenroot-node` only (a MAC that
 *   is no node of the inventory gets no boot file from this file). iPXE (user class, option 77,
 *   "iPXE") gets ipxe/boot.ipxe; UEFI HTTP Boot (vendor class, option 60, starting "HTTPClient")
 *   gets option 60 "HTTPClient" back and iPXE (snponly.efi) as an http:// URL of `xenroot serve`
 *   (only when the site runs it); client-arch (option 93) 7 or 9 (x86-64 UEFI) the site's EFI
 *   loader; the architectures xenroot has no loader for nothing; every other client pxelinux.0.
 *   The tests exclude each other, so exactly one class hands out a file: Kea takes the boot file
 *   of the first matching class, and that rule is not needed here.
 * - `"reservations"`.
 *
 * Classes that test `member('KNOWN')` are evaluated after the host lookup (Kea ARM, "Classification
 * steps"), when the classes a reservation names are already set: that is what lets a test read
 * `member('xenroot-node')`. Pure.
 */
import type { DhcpInput } from './dnsmasq.js';
import { OTHER_ARCHES, checkIpv4, dhcpHostname, efiBootFile, httpBootUrl } from './dnsmasq.js';
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';

/** The class every reservation xenroot writes puts its client in. */
export const KEA_NODE_CLASS = 'xenroot-node';

/** What the Kea file needs beyond the other flavours' input. */
export interface KeaInput extends DhcpInput {
  /**
   * `http://ADDR:PORT/boot` of `xenroot serve` (docs/serve.md: GET /boot/PATH sends PATH of the
   * TFTP tree): UEFI HTTP Boot clients get their loader from there. Unset: they get nothing.
   */
  httpBoot?: string;
}

const hex16 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/**
 * Renders the include file (text, ending in a newline): a `#` header, then the three members
 * separated by commas, with no comma after the last (the admin's config puts one after the
 * include). Throws a RenderError for proxy mode (Kea has no proxy-DHCP) and for a reservation
 * address that is no IPv4 address.
 */
export function renderKeaDhcp(input: KeaInput): string {
  if (input.proxy) throw new RenderError('site.dhcp.proxy is a dnsmasq mode: Kea has no proxy-DHCP; set site.dhcp.server to dnsmasq, or proxy to false');
  const ipxeBoot = input.httpBase ? `${input.httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe';
  const efi = efiBootFile(input.efiLoader ?? 'syslinux');
  // The same loader by URL as the dnsmasq and ISC files hand out (iPXE's snponly.efi: syslinux.efi
  // cannot start from an HTTP boot, it finds its server through PXE).
  const httpLoader = input.httpBoot ? httpBootUrl(input.httpBoot, input.efiLoader ?? 'syslinux') : undefined;
  const next = { 'next-server': input.bootServer };
  // next-server must be an IPv4 address in Kea; a host name goes as the server-hostname (sname).
  const server = /^\d+\.\d+\.\d+\.\d+$/.test(input.bootServer) ? next : { 'server-hostname': input.bootServer };
  const node = `member('KNOWN') and member('${KEA_NODE_CLASS}')`;
  const ipxe = "(substring(option[77].hex,0,4) == 'iPXE')";
  const http = "(substring(option[60].hex,0,10) == 'HTTPClient')";
  const efiArch = `(option[93].hex == ${hex16(7)} or option[93].hex == ${hex16(9)})`;
  const otherArch = `(${OTHER_ARCHES.map((a) => `option[93].hex == ${hex16(a)}`).join(' or ')})`;
  const classes: Record<string, unknown>[] = [
    { name: KEA_NODE_CLASS },
    { name: 'xenroot-ipxe', test: `${node} and ${ipxe}`, 'boot-file-name': ipxeBoot, ...server },
    // UEFI HTTP Boot: option 60 "HTTPClient" echoed (always sent: the firmware does not ask for it) and a full URL.
    ...(httpLoader
      ? [
          {
            name: 'xenroot-uefi-http',
            test: `${node} and not ${ipxe} and ${http}`,
            'boot-file-name': httpLoader,
            'option-data': [{ name: 'vendor-class-identifier', data: 'HTTPClient', 'always-send': true }],
          },
        ]
      : []),
    ...(efi ? [{ name: 'xenroot-uefi', test: `${node} and not ${ipxe} and not ${http} and ${efiArch}`, 'boot-file-name': efi, ...server }] : []),
    { name: 'xenroot-bios', test: `${node} and not ${ipxe} and not ${http} and not ${efiArch} and not ${otherArch}`, 'boot-file-name': 'pxelinux.0', ...server },
  ];
  const hosts = [...input.hosts].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
  const reservations = hosts.map((h) => {
    const hostname = dhcpHostname(h.hostname ?? h.name);
    return JSON.stringify({
      'hw-address': h.mac,
      ...(h.address ? { 'ip-address': checkIpv4(h.address, h) } : {}),
      ...(hostname ? { hostname } : {}),
      'client-classes': [KEA_NODE_CLASS],
      // Kea keeps a reservation's user-context: which node of the inventory it is.
      'user-context': { xenroot: `${h.kind} ${h.name}` },
    });
  });
  const lines = [
    generatedHeader(),
    '# Kea DHCPv4: include it inside "Dhcp4": { <?include "THIS FILE"?>, ... } (docs/netboot.md).',
    '"reservations-global": true,',
    '"client-classes": [',
    classes.map((c) => `  ${JSON.stringify(c)}`).join(',\n'),
    '],',
    `"reservations": [${reservations.length ? `\n${reservations.map((r) => `  ${r}`).join(',\n')}\n` : ''}]`,
    '',
  ];
  return lines.join('\n');
}
