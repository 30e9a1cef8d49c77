/**
 * The kernel's IPv4 neighbour table (/proc/net/arp): which MAC answered for an address on a
 * local link. The boot service checks a node's request against it (the MAC it claims must be the
 * one the link layer saw for its source address).
 */
import { readFileSync } from 'node:fs';

/**
 * The MAC (lower case, colons) of a complete entry for IPv4 `address` in `table` (the text of
 * /proc/net/arp: "IP address  HW type  Flags  HW address  Mask  Device", flag 0x2 = complete);
 * undefined when there is none. Reads /proc/net/arp when no table is given; an unreadable file
 * counts as an empty table.
 */
export function neighbourMac(address: string, table?: string): string | undefined {
  let text = table;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/arp', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[0] !== address) continue;
    if ((parseInt(f[2] ?? '0', 16) & 0x2) === 0) continue;
    const mac = (f[3] ?? '').toLowerCase();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) && mac !== '00:00:00:00:00:00') return mac;
  }
  return undefined;
}
