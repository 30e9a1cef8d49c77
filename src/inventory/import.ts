/**
 * Reading lists of machines for `xenroot client import`: a CSV file with a header (mac, name,
 * group, address, image, append; only mac is required), the `dhcp-host=` lines of a dnsmasq
 * configuration or hosts file, or the `host NAME { hardware ethernet ...; fixed-address ...; }`
 * blocks of an ISC dhcpd.conf, or the `"reservations"` of a Kea DHCPv4 config (kea-dhcp4.conf, an
 * included file such as xenroot's own, or a bare list). Each row keeps the line it came from, so that every problem is
 * reported as FILE:LINE. Pure (the text comes in, rows go out).
 *
 * CSV is parsed with csv-parse (quoting, embedded commas and line breaks as RFC 4180 has them).
 * dnsmasq's dhcp-host syntax follows dnsmasq(8): `[hwaddr][,id:..][,set:tag][,tag:tag][,ipaddr]
 * [,hostname][,lease_time][,ignore]`; ISC's host declaration follows dhcpd.conf(5); Kea's host
 * reservation its ARM ("hw-address", "ip-address", "hostname"; JSON with `#`, `//` and `/* *\/`
 * comments).
 */
import { parse } from 'csv-parse/sync';
import { isIPv4 } from 'node:net';
import { InventoryError } from '../sys/errors.js';
import { parseMac } from './validate.js';

import type { ImportFormat } from './constants.js';

/** The columns a CSV may have; a row without a column leaves that value of an existing client as it is. */
export const CSV_COLUMNS = ['mac', 'name', 'group', 'address', 'image', 'append'] as const;
type Column = (typeof CSV_COLUMNS)[number];

export interface ImportRow {
  /** 1-based line of the file the row starts on. */
  line: number;
  /** Normalised (aa:bb:cc:dd:ee:ff). */
  mac: string;
  /** The values the row gives; a key present with "" clears that value (CSV: an empty cell). */
  values: Partial<Record<Exclude<Column, 'mac'>, string>>;
  /** A dnsmasq line marked `ignore`: nothing to enrol. */
  ignore?: boolean;
}

export interface ImportProblem {
  line: number;
  message: string;
}

/** Which format a text is: dnsmasq when it has dhcp-host lines, Kea when it has "hw-address" keys, ISC when it has host blocks, else CSV. */
export function detectFormat(text: string): ImportFormat {
  if (/^\s*dhcp-host\s*=/m.test(text)) return 'dnsmasq';
  if (/"(hw-address|reservations)"\s*:/.test(text)) return 'kea';
  if (/(^|[\s;{}])host\s+("[^"]*"|[^\s{]+)\s*\{/m.test(text.replace(/#.*$/gm, ''))) return 'isc';
  return 'csv';
}

class Problems {
  readonly list: ImportProblem[] = [];
  add(line: number, message: string): void {
    this.list.push({ line, message });
  }
}

function macOf(value: string, line: number, problems: Problems): string | undefined {
  const mac = parseMac(value);
  if (!mac) problems.add(line, `MAC "${value}" is not valid: must be six hex byte pairs (aa:bb:cc:dd:ee:ff, AA-BB-.., or bare), unicast, not all zero`);
  return mac;
}

function parseCsv(text: string, problems: Problems): ImportRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { info: true, skip_empty_lines: true, trim: true, comment: '#', comment_no_infix: true, relax_column_count: false }) as unknown as typeof records;
  } catch (err) {
    const e = err as { lines?: number; message: string };
    problems.add(e.lines ?? 1, `not valid CSV: ${e.message.replace(/^Invalid Record Length: /, '')}`);
    return [];
  }
  if (records.length === 0) {
    problems.add(1, 'the file is empty: a CSV needs a header line such as "mac,name,group,address"');
    return [];
  }
  const header = records[0]!;
  const columns = header.record.map((h) => h.toLowerCase());
  for (const c of columns)
    if (!(CSV_COLUMNS as readonly string[]).includes(c)) problems.add(header.info.lines, `unknown column "${c}": the header may name ${CSV_COLUMNS.join(', ')}`);
  if (!columns.includes('mac')) problems.add(header.info.lines, `the header has no "mac" column (it names ${columns.join(', ') || 'nothing'})`);
  if (new Set(columns).size !== columns.length) problems.add(header.info.lines, 'a column is named twice in the header');
  if (problems.list.length) return [];
  const rows: ImportRow[] = [];
  for (const { record, info } of records.slice(1)) {
    const values: ImportRow['values'] = {};
    let mac: string | undefined;
    const line = info.lines;
    columns.forEach((c, i) => {
      const v = record[i] ?? '';
      if (c === 'mac') mac = macOf(v, line, problems);
      else values[c as Exclude<Column, 'mac'>] = v;
    });
    if (mac) rows.push({ line, mac, values });
  }
  return rows;
}

const LEASE_TIME = /^(infinite|\d+[smhdw]?)$/i;

function parseDnsmasq(text: string, problems: Problems): ImportRow[] {
  const rows: ImportRow[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const m = /^\s*dhcp-host\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) return;
    const values: ImportRow['values'] = {};
    let mac: string | undefined;
    let ignore = false;
    for (const item of (m[1] as string).split(',').map((s) => s.trim())) {
      if (item === '') continue;
      if (/^(id|set|tag):/i.test(item) || /^\[.*\]$/.test(item) || LEASE_TIME.test(item)) continue;
      if (item === 'ignore') ignore = true;
      else if (item.includes('*')) problems.add(line, `MAC "${item}" has a wildcard: xenroot enrols one machine per MAC`);
      else if (parseMac(item) || /^([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}$/i.test(item) || /^\d+-/.test(item)) {
        if (mac) problems.add(line, `more than one MAC (${mac}, ${item}): xenroot keeps one MAC per client; split the line`);
        else mac = macOf(item.replace(/^1-/, ''), line, problems);
      } else if (isIPv4(item)) values.address = item;
      else values.name = item;
    }
    if (!mac) {
      if (!problems.list.some((p) => p.line === line)) problems.add(line, 'dhcp-host without a MAC: xenroot enrols clients by MAC');
      return;
    }
    rows.push({ line, mac, values, ...(ignore ? { ignore } : {}) });
  });
  if (rows.length === 0 && problems.list.length === 0) problems.add(1, 'no dhcp-host= line found');
  return rows;
}

/** Cuts `#` comments (outside double quotes) from ISC text, keeping line breaks. */
function stripIscComments(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|#[^\n]*/g, (m) => (m.startsWith('#') ? '' : m));
}

function parseIsc(text: string, problems: Problems): ImportRow[] {
  const clean = stripIscComments(text);
  const rows: ImportRow[] = [];
  const hostRe = /(^|[\s;{}])host\s+("[^"]*"|[^\s{]+)\s*\{([^{}]*)\}/g;
  for (const m of clean.matchAll(hostRe)) {
    const at = (m.index ?? 0) + (m[1] as string).length;
    const line = clean.slice(0, at).split('\n').length;
    const declared = (m[2] as string).replace(/^"|"$/g, '');
    const values: ImportRow['values'] = {};
    let mac: string | undefined;
    let hostName: string | undefined;
    for (const stmt of (m[3] as string).split(';').map((s) => s.trim().replace(/\s+/g, ' '))) {
      if (stmt === '') continue;
      const hw = /^hardware ethernet (\S+)$/i.exec(stmt);
      const fixed = /^fixed-address (.+)$/i.exec(stmt);
      const hn = /^option host-name "([^"]*)"$/i.exec(stmt);
      if (hw) mac = macOf(hw[1] as string, line, problems);
      else if (fixed) {
        const addrs = (fixed[1] as string).split(',').map((s) => s.trim());
        if (addrs.length !== 1 || !isIPv4(addrs[0] as string)) problems.add(line, `fixed-address "${fixed[1]}" of host ${declared}: xenroot takes one IPv4 address per client`);
        else values.address = addrs[0] as string;
      } else if (hn) hostName = hn[1];
    }
    if (!mac) {
      if (!problems.list.some((p) => p.line === line)) problems.add(line, `host ${declared} has no "hardware ethernet" MAC`);
      continue;
    }
    values.name = hostName ?? declared;
    rows.push({ line, mac, values });
  }
  if (rows.length === 0 && problems.list.length === 0) problems.add(1, 'no host { ... } block found');
  return rows;
}

/** Blanks Kea's comments (`#`, `//`, `/* *\/` outside strings) with spaces, keeping every offset and line break. */
function blankKeaComments(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => (m.startsWith('"') ? m : m.replace(/[^\n]/g, ' ')));
}

const lineAt = (text: string, offset: number) => text.slice(0, Math.max(0, offset)).split('\n').length;

/** Every `"reservations"` list anywhere in a parsed Kea config (global, per subnet, per shared network), or a bare list of them. */
function keaReservations(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.some((v) => v && typeof v === 'object' && 'hw-address' in v) ? value : value.flatMap(keaReservations);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === 'reservations' && Array.isArray(v) ? v : keaReservations(v)));
}

function parseKea(text: string, problems: Problems): ImportRow[] {
  const clean = blankKeaComments(text);
  const include = /<\?include\s+"([^"]*)"\s*\?>/.exec(clean);
  if (include) {
    problems.add(lineAt(clean, include.index), `<?include "${include[1]}"?>: import the included file itself (${include[1]})`);
    return [];
  }
  let parsed: unknown;
  let error: Error | undefined;
  // A whole config, the members of a map (xenroot's include file), or the elements of a list.
  for (const [open, close] of [['', ''], ['{', '}'], ['[', ']']] as const) {
    try {
      parsed = JSON.parse(`${open}${clean}${close}`);
      break;
    } catch (err) {
      error ??= err as Error;
    }
  }
  if (parsed === undefined) {
    const at = /position (\d+)/.exec(error?.message ?? '');
    problems.add(at ? lineAt(clean, Number(at[1])) : 1, `not valid Kea JSON: ${error?.message ?? 'unreadable'}`);
    return [];
  }
  const rows: ImportRow[] = [];
  let from = 0;
  for (const r of keaReservations(parsed)) {
    if (!r || typeof r !== 'object') continue;
    const res = r as Record<string, unknown>;
    const hw = typeof res['hw-address'] === 'string' ? res['hw-address'] : undefined;
    // The reservation's line: where its identifier is written (searched on from the previous one).
    const ident = hw ?? Object.values(res).find((v) => typeof v === 'string');
    const at = ident === undefined ? -1 : clean.indexOf(JSON.stringify(ident).slice(1, -1), from);
    if (at >= 0) from = at;
    const line = at >= 0 ? lineAt(clean, at) : 1;
    if (hw === undefined) {
      problems.add(line, `reservation ${JSON.stringify(res).slice(0, 80)} has no "hw-address": xenroot enrols clients by MAC`);
      continue;
    }
    const mac = macOf(hw, line, problems);
    if (!mac) continue;
    const values: ImportRow['values'] = {};
    const ip = res['ip-address'];
    if (ip !== undefined) {
      if (typeof ip === 'string' && isIPv4(ip)) values.address = ip;
      else problems.add(line, `ip-address ${JSON.stringify(ip)} of ${hw}: xenroot takes one IPv4 address per client`);
    }
    if (typeof res.hostname === 'string' && res.hostname !== '') values.name = res.hostname;
    rows.push({ line, mac, values });
  }
  if (rows.length === 0 && problems.list.length === 0) problems.add(1, 'no Kea reservation with an "hw-address" found');
  return rows;
}

/**
 * Parses an import file into rows (format detected unless given). Throws an InventoryError whose
 * message names FILE:LINE of the first problem, and whose hint lists the others: a file with any
 * bad line is refused whole.
 */
export function parseImport(text: string, file: string, format: ImportFormat = detectFormat(text)): { format: ImportFormat; rows: ImportRow[] } {
  const problems = new Problems();
  const parsers = { csv: parseCsv, dnsmasq: parseDnsmasq, isc: parseIsc, kea: parseKea };
  const rows = parsers[format](text, problems);
  throwProblems(file, problems.list);
  return { format, rows };
}

/** Throws the problems (sorted by line) as one InventoryError: the first in the message, the rest in the hint. */
export function throwProblems(file: string, problems: ImportProblem[]): void {
  if (problems.length === 0) return;
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const first = sorted[0]!;
  const rest = sorted.slice(1, 11).map((p) => `${file}:${p.line}: ${p.message}`);
  const more = sorted.length > 11 ? `; and ${sorted.length - 11} more` : '';
  throw new InventoryError(`${file}:${first.line}: ${first.message}`, {
    hint: `nothing was imported${rest.length ? `; ${sorted.length - 1} more bad line${sorted.length > 2 ? 's' : ''}: ${rest.join('; ')}${more}` : ''}`,
  });
}
