/**
 * What the DHCP and TFTP servers saw: machines that asked for an address or a boot file, read
 * from the servers' own records. Pure parsers (text in, sightings out), for `client discover`.
 *
 * - dnsmasq lease file (dhcp-leasefile, Debian: /var/lib/misc/dnsmasq.leases): one lease a line,
 *   `EXPIRY MAC IP HOSTNAME CLIENT-ID` (EXPIRY in seconds since the epoch, 0 = infinite; `*` for
 *   no name), plus a `duid` line for DHCPv6 (dnsmasq's lease.c writes exactly this).
 * - ISC dhcpd.leases (dhcpd.leases(5)): `lease IP { starts W YYYY/MM/DD HH:MM:SS; ends ...;
 *   cltt ...; binding state active; hardware ethernet MAC; client-hostname "x"; }`, times in UTC
 *   (or `epoch N;` with db-time-format local); later records of one address supersede earlier ones.
 * - Kea memfile (lease-database type memfile, Debian: /var/lib/kea/kea-leases4.csv): a CSV with a
 *   header, `address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,
 *   state,user_context[,pool_id]` (columns found by name: later Kea versions add some), `expire` in
 *   seconds since the epoch, the lease given at expire - valid_lifetime; a comma or other special
 *   character inside a value is written `&#xHH` (Kea's CSVRow::escapeCharacters). The file is an
 *   append-only log: the last row of an address wins.
 * - Logs: dnsmasq with log-dhcp (log-facility=FILE or syslog): `DHCPACK(IFACE) IP MAC [NAME]`,
 *   `DHCPDISCOVER(IFACE) MAC`, TFTP `sent PATH to IP` and `file PATH not found for IP`; ISC dhcpd
 *   `DHCPACK on IP to MAC`; tftpd-hpa `RRQ from IP filename PATH`. Syslog stamps carry no year:
 *   the current one is assumed (the previous one when that would lie in the future).
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { isIPv4 } from 'node:net';
import { parseMac } from '../inventory/validate.js';

export type LeaseFormat = 'dnsmasq' | 'isc' | 'kea';

/** One machine as the servers saw it. Times in ms since the epoch. */
export interface Sighting {
  mac: string;
  ip?: string;
  /** The name the client asked for (DHCP option 12), if any. */
  hostname?: string;
  firstSeen?: number;
  lastSeen?: number;
  /** The end of its lease (dnsmasq; undefined: infinite or unknown). */
  leaseExpires?: number;
  /** Files it fetched over TFTP (paths as the server logged them). */
  fetched: string[];
  /** It fetched the default pxelinux entry (pxelinux.cfg/default) or the default iPXE script. */
  askedDefault: { pxelinux: boolean; ipxe: boolean };
  /** Where it was seen: the lease file, the log. */
  seenIn: ('leases' | 'log')[];
}

/** Which lease format a text is (ISC's has `lease ... {` blocks, Kea's memfile starts with its CSV header). */
export function leaseFormat(text: string): LeaseFormat {
  if (/^address,hwaddr,/.test(text)) return 'kea';
  return /^\s*lease\s+\S+\s*\{/m.test(text) ? 'isc' : 'dnsmasq';
}

function blank(mac: string): Sighting {
  return { mac, fetched: [], askedDefault: { pxelinux: false, ipxe: false }, seenIn: [] };
}

function seen(s: Sighting, at: number | undefined): void {
  if (at === undefined || Number.isNaN(at)) return;
  if (s.firstSeen === undefined || at < s.firstSeen) s.firstSeen = at;
  if (s.lastSeen === undefined || at > s.lastSeen) s.lastSeen = at;
}

/** Sightings from a dnsmasq lease file. */
export function parseDnsmasqLeases(text: string): Sighting[] {
  const out: Sighting[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || f[0] === 'duid') continue;
    const mac = parseMac(f[1] as string);
    if (!mac) continue; // DHCPv6 leases and non-Ethernet hardware
    const s = blank(mac);
    s.seenIn.push('leases');
    if (isIPv4(f[2] as string)) s.ip = f[2] as string;
    if (f[3] && f[3] !== '*') s.hostname = f[3];
    const expiry = Number(f[0]);
    if (expiry > 0) s.leaseExpires = expiry * 1000;
    out.push(s);
  }
  return out;
}

/** `W YYYY/MM/DD HH:MM:SS` (UTC) or `epoch N` of an ISC lease. */
function iscTime(v: string): number | undefined {
  const e = /^epoch (\d+)/.exec(v);
  if (e) return Number(e[1]) * 1000;
  const m = /^\d (\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)/.exec(v);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) : undefined;
}

/** Sightings from an ISC dhcpd.leases file (the last record of each address wins). */
export function parseIscLeases(text: string): Sighting[] {
  const byIp = new Map<string, Sighting>();
  const clean = text.replace(/#[^\n]*/g, '');
  for (const m of clean.matchAll(/lease\s+(\S+)\s*\{([^}]*)\}/g)) {
    const body = m[2] as string;
    const hw = /hardware ethernet ([0-9a-fA-F:]+);/.exec(body);
    const mac = hw ? parseMac(hw[1] as string) : undefined;
    if (!mac) continue;
    const s = blank(mac);
    s.seenIn.push('leases');
    if (isIPv4(m[1] as string)) s.ip = m[1] as string;
    const name = /client-hostname "([^"]*)";/.exec(body);
    if (name) s.hostname = name[1];
    for (const key of ['starts', 'cltt']) {
      const t = new RegExp(`\\b${key} ([^;]+);`).exec(body);
      if (t) seen(s, iscTime(t[1] as string));
    }
    const ends = /\bends ([^;]+);/.exec(body);
    const end = ends ? iscTime(ends[1] as string) : undefined;
    if (end !== undefined) s.leaseExpires = end;
    byIp.set(m[1] as string, s);
  }
  return [...byIp.values()];
}

/** A value of Kea's CSV with its `&#xHH` escapes undone. */
function keaUnescape(v: string): string {
  return v.replace(/&#x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Sightings from a Kea memfile lease file (kea-leases4.csv); rows without an Ethernet MAC are skipped. */
export function parseKeaLeases(text: string): Sighting[] {
  const rows = parseCsv(text, { skip_empty_lines: true, relax_column_count: true }) as string[][];
  const header = rows[0] ?? [];
  const col = (name: string) => header.indexOf(name);
  const [address, hwaddr, valid, expire, hostname] = ['address', 'hwaddr', 'valid_lifetime', 'expire', 'hostname'].map(col) as [number, number, number, number, number];
  if (address < 0 || hwaddr < 0) return [];
  const byIp = new Map<string, Sighting>();
  for (const row of rows.slice(1)) {
    const ip = row[address] ?? '';
    const mac = parseMac(row[hwaddr] ?? '');
    if (!mac) continue;
    const s = blank(mac);
    s.seenIn.push('leases');
    if (isIPv4(ip)) s.ip = ip;
    const name = hostname >= 0 ? keaUnescape(row[hostname] ?? '') : '';
    if (name) s.hostname = name;
    const end = Number(row[expire]);
    const lifetime = Number(row[valid]);
    if (expire >= 0 && Number.isFinite(end) && end > 0) {
      s.leaseExpires = end * 1000;
      if (valid >= 0 && Number.isFinite(lifetime) && lifetime >= 0 && lifetime <= end) seen(s, (end - lifetime) * 1000);
    }
    byIp.set(ip, s);
  }
  return [...byIp.values()];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A log line's time: `Mon DD HH:MM:SS` (local time, year assumed) or ISO 8601. */
function logTime(stamp: string, now: number): number | undefined {
  if (/^\d{4}-/.test(stamp)) {
    const t = Date.parse(stamp.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
    return Number.isNaN(t) ? undefined : t;
  }
  const m = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) return undefined;
  const year = new Date(now).getFullYear();
  let t = new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  if (t > now + 86_400_000) t = new Date(year - 1, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])).getTime();
  return t;
}

const LOG_LINE = /^(\w{3} +\d+ \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?)\s+(?:\S+\s+)?([\w.-]+)(?:\[\d+\])?:\s+(.*)$/;

/**
 * Sightings from DHCP/TFTP log text (dnsmasq, ISC dhcpd, tftpd-hpa lines; others are skipped).
 * TFTP requests name an address: it is tied to the MAC whose lease had it (from the log itself,
 * or from `leases`).
 */
export function parseServerLog(text: string, leases: Sighting[] = [], now = Date.now()): Sighting[] {
  const byMac = new Map<string, Sighting>();
  const macOfIp = new Map<string, string>();
  for (const l of leases) if (l.ip) macOfIp.set(l.ip, l.mac);
  const get = (mac: string) => {
    let s = byMac.get(mac);
    if (!s) byMac.set(mac, (s = blank(mac)));
    if (!s.seenIn.includes('log')) s.seenIn.push('log');
    return s;
  };
  for (const line of text.split('\n')) {
    const m = LOG_LINE.exec(line);
    if (!m) continue;
    const at = logTime(m[1] as string, now);
    const msg = m[3] as string;
    // dnsmasq: [serial ]DHCPACK(iface) IP MAC [name] / DHCPDISCOVER(iface) MAC
    const dm = /(?:^|\s)DHCP(DISCOVER|OFFER|REQUEST|ACK)\([^)]*\)\s+(?:(\d+\.\d+\.\d+\.\d+)\s+)?([0-9a-fA-F:-]{17})(?:\s+(\S+))?/.exec(msg);
    // ISC dhcpd: DHCPACK on IP to MAC [(name)] via IFACE / DHCPDISCOVER from MAC via IFACE
    const im = /^DHCP(ACK|OFFER) on (\d+\.\d+\.\d+\.\d+) to ([0-9a-fA-F:]{17})(?: \(([^)]*)\))?/.exec(msg) ?? /^DHCP(DISCOVER|REQUEST) (?:for \S+ )?from ([0-9a-fA-F:]{17})/.exec(msg);
    if (dm) {
      const mac = parseMac(dm[3] as string);
      if (!mac) continue;
      const s = get(mac);
      seen(s, at);
      if (dm[2] && (dm[1] === 'ACK' || dm[1] === 'OFFER')) {
        s.ip = dm[2];
        macOfIp.set(dm[2], mac);
      }
      if (dm[4] && dm[1] === 'ACK') s.hostname = dm[4];
      continue;
    }
    if (im) {
      const isAck = im.length === 5 && /^\d/.test(im[2] as string);
      const mac = parseMac((isAck ? im[3] : im[2]) as string);
      if (!mac) continue;
      const s = get(mac);
      seen(s, at);
      if (isAck) {
        s.ip = im[2] as string;
        macOfIp.set(s.ip, mac);
        if (im[4]) s.hostname = im[4];
      }
      continue;
    }
    // TFTP: dnsmasq "sent PATH to IP", "file PATH not found for IP"; tftpd-hpa "RRQ from IP filename PATH".
    const sent = /^sent (\S+) to (\d+\.\d+\.\d+\.\d+)/.exec(msg);
    const rrq = /^RRQ from (?:::ffff:)?(\d+\.\d+\.\d+\.\d+) filename (\S+)/.exec(msg);
    const path = sent ? sent[1] : rrq ? rrq[2] : undefined;
    const ip = sent ? sent[2] : rrq ? rrq[1] : undefined;
    if (path && ip) {
      const mac = macOfIp.get(ip);
      if (!mac) continue;
      const s = get(mac);
      seen(s, at);
      if (!s.fetched.includes(path)) s.fetched.push(path);
      if (/(^|\/)pxelinux\.cfg\/default$/.test(path)) s.askedDefault.pxelinux = true;
      if (/(^|\/)default\.ipxe$/.test(path)) s.askedDefault.ipxe = true;
    }
  }
  return [...byMac.values()];
}

/** Merges sightings of the same MAC (lease file and log): earliest first, latest last, union of files. */
export function mergeSightings(...lists: Sighting[][]): Sighting[] {
  const out = new Map<string, Sighting>();
  for (const list of lists) {
    for (const s of list) {
      const m = out.get(s.mac);
      if (!m) {
        out.set(s.mac, { ...s, fetched: [...s.fetched], askedDefault: { ...s.askedDefault }, seenIn: [...s.seenIn] });
        continue;
      }
      m.ip ??= s.ip;
      m.hostname ??= s.hostname;
      if (s.leaseExpires !== undefined) m.leaseExpires = Math.max(m.leaseExpires ?? 0, s.leaseExpires);
      seen(m, s.firstSeen);
      seen(m, s.lastSeen);
      for (const f of s.fetched) if (!m.fetched.includes(f)) m.fetched.push(f);
      m.askedDefault.pxelinux ||= s.askedDefault.pxelinux;
      m.askedDefault.ipxe ||= s.askedDefault.ipxe;
      for (const w of s.seenIn) if (!m.seenIn.includes(w)) m.seenIn.push(w);
    }
  }
  return [...out.values()];
}
