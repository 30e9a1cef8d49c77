/** ISC dhcpd host blocks for clients and guests with pinned MACs, with the PXE boot file. Pure. */
import type { DhcpInput } from './dnsmasq.js';
import { dhcpHostname } from './dnsmasq.js';
import { generatedHeader } from './header.js';

function hostId(kind: string, name: string): string {
  // dhcpd host declarations take a name; keep it to letters, digits and "-".
  return `xenroot-${kind}-${name.replace(/[^A-Za-z0-9-]/g, '-')}`;
}

/** A `group { ... }` of host blocks (the body of a managed block or a whole include file). */
export function renderIscDhcp(input: DhcpInput): string {
  const ipxeBoot = input.httpBase ? `${input.httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe';
  const lines = [
    generatedHeader(),
    'group {',
    `  next-server ${input.bootServer};`,
    '  if exists user-class and option user-class = "iPXE" {',
    `    filename "${ipxeBoot}";`,
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
    const hostname = dhcpHostname(h.name);
    lines.push(`  host ${id} { hardware ethernet ${h.mac};${hostname ? ` option host-name "${hostname}";` : ''} }`);
  }
  lines.push('}', '');
  return lines.join('\n');
}
