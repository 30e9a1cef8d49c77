/** ISC dhcpd host blocks for clients and guests with pinned MACs, with the PXE boot file by client architecture. Pure. */
import type { DhcpInput } from './dnsmasq.js';
import { HTTP_BOOT_ARCH, OTHER_ARCHES, checkIpv4, dhcpHostname, efiBootFile, httpBootUrl } from './dnsmasq.js';
import { generatedHeader } from './header.js';

function hostId(kind: string, name: string): string {
  // dhcpd host declarations take a name; keep it to letters, digits and "-".
  return `xenroot-${kind}-${name.replace(/[^A-Za-z0-9-]/g, '-')}`;
}

/**
 * A `group { ... }` of host blocks (the body of a managed block or a whole include file), preceded
 * by the declaration of option 93 under xenroot's own name (at global scope, before any use:
 * dhcpd refuses `option arch` unless declared; another declaration of code 93 under the admin's
 * name may coexist). The boot file: iPXE (user class "iPXE") gets ipxe/boot.ipxe, client-arch
 * 00:07 or 00:09 (x86-64 UEFI) the site's EFI loader, a UEFI HTTP Boot client (00:10 with a vendor
 * class starting "HTTPClient") the URL of iPXE at the HTTP base with option 60 echoed
 * "HTTPClient" (UEFI 2.x, 24.7.2), everything else pxelinux.0. The `if` sits
 * inside the group: it applies to the hosts declared there only, so a MAC that is no client gets
 * no boot file from this fragment (dhcpd scoping; see docs/netboot.md).
 */
export function renderIscDhcp(input: DhcpInput): string {
  const ipxeBoot = input.httpBase ? `${input.httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe';
  const efi = efiBootFile(input.efiLoader ?? 'syslinux');
  const httpUrl = httpBootUrl(input.httpBase, input.efiLoader ?? 'syslinux');
  const arch = (a: number) => `option ${ISC_ARCH_OPTION} = 00:${a.toString(16).padStart(2, '0')}`;
  const lines = [
    generatedHeader(),
    `option ${ISC_ARCH_OPTION} code 93 = unsigned integer 16;`,
    'group {',
    `  next-server ${input.bootServer};`,
    '  if exists user-class and option user-class = "iPXE" {',
    `    filename "${ipxeBoot}";`,
    `  } elsif option ${ISC_ARCH_OPTION} = 00:07 or option ${ISC_ARCH_OPTION} = 00:09 {`,
    efi ? `    filename "${efi}";` : '    # UEFI clients: no loader (site.pxe.efiLoader: none)',
    `  } elsif ${arch(HTTP_BOOT_ARCH)} and substring(option vendor-class-identifier, 0, 10) = "HTTPClient" {`,
    ...(httpUrl
      ? ['    option vendor-class-identifier "HTTPClient";', `    filename "${httpUrl}";`]
      : ['    # UEFI HTTP Boot: no answer (no HTTP base: site.serve or site.pxe.httpBase; or site.pxe.efiLoader: none)']),
    `  } elsif ${[...OTHER_ARCHES, HTTP_BOOT_ARCH].map(arch).join(' or ')} {`,
    '    # architectures xenroot has no loader for (IA64, IA32 EFI, ARM EFI, UEFI HTTP other than x64, arch 16 without HTTPClient): no boot file, never a BIOS one',
    '  } else {',
    '    filename "pxelinux.0";',
    '  }',
  ];
  const hosts = [...input.hosts].sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
  const seen = new Set<string>();
  for (const h of hosts) {
    let id = hostId(h.kind, h.name);
    while (seen.has(id)) id += '-';
    seen.add(id);
    const hostname = dhcpHostname(h.hostname ?? h.name);
    const fixed = h.address ? ` fixed-address ${checkIpv4(h.address, h)};` : '';
    lines.push(`  host ${id} { hardware ethernet ${h.mac};${fixed}${hostname ? ` option host-name "${hostname}";` : ''} }`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** xenroot's name for DHCP option 93 (client-arch) in dhcpd.conf. */
export const ISC_ARCH_OPTION = 'xenroot-arch';
