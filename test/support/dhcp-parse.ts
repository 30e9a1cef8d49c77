/**
 * Independent readers of the DHCP configs xenroot writes, for tests: what a dnsmasq drop-in and
 * an ISC dhcpd fragment hand to a client of a given MAC, client architecture (DHCP option 93) and
 * user class, as the daemons' documentation defines it (dnsmasq(8): dhcp-match, dhcp-userclass,
 * dhcp-boot with tag:/tag:! conditions, pxe-service CSA names; dhcpd.conf(5): group, host,
 * if/elsif/else, option declarations).
 */

export interface Reservation {
  mac: string;
  address?: string;
  hostname?: string;
  /** dnsmasq read a field as a lease time. */
  leaseTime?: string;
  /** dnsmasq read "ignore": the MAC gets no answer at all. */
  ignored?: boolean;
}

export interface ClientAsk {
  /** Option 93: 0 BIOS, 6 IA32 EFI, 7 EFI BC, 9 x86-64 EFI. */
  arch: number;
  /** Sent user class "iPXE". */
  ipxe: boolean;
  /** The client is declared (dhcp-host / host block). */
  known: boolean;
  /** Option 60 as sent, e.g. "HTTPClient:Arch:00016:UNDI:003001" (UEFI HTTP Boot). */
  vendorClass?: string;
}

/** What the client is offered: the boot file (undefined: none), and every line that matched (must be one). */
export interface BootOffer {
  file: string | undefined;
  matches: number;
  /** Option 60 in the answer (a UEFI HTTP Boot client needs "HTTPClient" echoed). */
  vendorClass?: string;
}

// ---- dnsmasq -----------------------------------------------------------------------------

interface DnsmasqConfig {
  reservations: Reservation[];
  /** tag -> condition */
  archTags: Map<string, number[]>;
  userClassTags: Map<string, string>;
  vendorClassTags: Map<string, string>;
  /** dhcp-option-force lines: option 60 only here. */
  forced: { tags: { tag: string; negate: boolean }[]; option: number; value: string }[];
  boots: { tags: { tag: string; negate: boolean }[]; file: string; server?: string }[];
  pxeServices: { tags: { tag: string; negate: boolean }[]; csa: string; file: string }[];
  proxy: boolean;
}

export function parseDnsmasq(text: string): DnsmasqConfig {
  const cfg: DnsmasqConfig = { reservations: [], archTags: new Map(), userClassTags: new Map(), vendorClassTags: new Map(), forced: [], boots: [], pxeServices: [], proxy: false };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`dnsmasq: no "=" in ${line}`);
    const key = line.slice(0, eq);
    const fields = splitCommas(line.slice(eq + 1));
    const tags: { tag: string; negate: boolean }[] = [];
    while (fields[0]?.startsWith('tag:')) {
      const t = fields.shift()!.slice(4);
      tags.push(t.startsWith('!') ? { tag: t.slice(1), negate: true } : { tag: t, negate: false });
    }
    switch (key) {
      case 'dhcp-host': {
        // Fields as dnsmasq 2.90's option.c classifies them: ":" hardware address, dotted IPv4,
        // digits with an optional s/m/h/d/w suffix a lease time, "infinite" a lease time,
        // "ignore" the host disabled, anything else a host name.
        const r: Reservation = { mac: '' };
        for (const f of fields) {
          if (f.includes(':')) r.mac = f.toLowerCase();
          else if (/^\d+\.\d+\.\d+\.\d+$/.test(f)) r.address = f;
          else if (/^\d+[smhdwSMHDW]?$/.test(f) || f === 'infinite') r.leaseTime = f;
          else if (f === 'ignore') r.ignored = true;
          else if (f) r.hostname = f;
        }
        cfg.reservations.push(r);
        break;
      }
      case 'dhcp-match': {
        const set = /^set:(.+)$/.exec(fields[0] ?? '');
        if (!set || fields[1] !== 'option:client-arch') throw new Error(`dnsmasq: unexpected dhcp-match ${line}`);
        cfg.archTags.set(set[1]!, [...(cfg.archTags.get(set[1]!) ?? []), Number(fields[2])]);
        break;
      }
      case 'dhcp-userclass': {
        const set = /^set:(.+)$/.exec(fields[0] ?? '');
        cfg.userClassTags.set(set![1]!, fields[1]!);
        break;
      }
      case 'dhcp-vendorclass': {
        const set = /^set:(.+)$/.exec(fields[0] ?? '');
        cfg.vendorClassTags.set(set![1]!, fields[1]!);
        break;
      }
      case 'dhcp-option-force':
        cfg.forced.push({ tags, option: Number(fields[0]), value: fields.slice(1).join(',') });
        break;
      case 'dhcp-boot':
        cfg.boots.push({ tags, file: fields[0]!, ...(fields[2] ? { server: fields[2] } : {}) });
        break;
      case 'pxe-service':
        cfg.pxeServices.push({ tags, csa: fields[0]!, file: fields[2]! });
        break;
      case 'dhcp-range':
        if (fields.includes('proxy')) cfg.proxy = true;
        break;
      default:
        throw new Error(`dnsmasq: unexpected option ${key}`);
    }
  }
  return cfg;
}

function splitCommas(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** dnsmasq(8) CSA names of pxe-service and the client-arch each answers. */
const CSA_ARCH: Record<string, number> = { x86PC: 0, PC98: 1, IA64_EFI: 2, Alpha: 3, Arc_x86: 4, Intel_Lean_Client: 5, IA32_EFI: 6, BC_EFI: 7, Xscale_EFI: 8, 'x86-64_EFI': 9 };

export function dnsmasqOffer(cfg: DnsmasqConfig, ask: ClientAsk): BootOffer {
  const tags = new Set<string>();
  for (const [tag, arches] of cfg.archTags) if (arches.includes(ask.arch)) tags.add(tag);
  for (const [tag, cls] of cfg.userClassTags) if (ask.ipxe && cls === 'iPXE') tags.add(tag);
  // dnsmasq(8): "The vendor-class string is substring matched".
  for (const [tag, cls] of cfg.vendorClassTags) if (ask.vendorClass?.includes(cls)) tags.add(tag);
  const ok = (conds: { tag: string; negate: boolean }[]) => conds.every((c) => tags.has(c.tag) !== c.negate);
  const option60 = cfg.forced.find((f) => f.option === 60 && ok(f.tags))?.value;
  const candidates: string[] = [];
  for (const b of cfg.boots) if (ok(b.tags)) candidates.push(b.file);
  // In proxy mode PXE firmware (not iPXE) is answered by the pxe-service of its architecture.
  if (cfg.proxy && !ask.ipxe)
    for (const p of cfg.pxeServices) if (ok(p.tags) && CSA_ARCH[p.csa] === ask.arch) candidates.push(/\.[A-Za-z0-9]+$/.test(p.file) ? p.file : `${p.file}.0`);
  return { file: candidates[0], matches: candidates.length, ...(option60 !== undefined ? { vendorClass: option60 } : {}) };
}

// ---- ISC dhcpd ---------------------------------------------------------------------------

interface IscConfig {
  archOption: string | undefined;
  reservations: Reservation[];
  /** The if/elsif/else chain inside the group: conditions and filenames. */
  branches: { ipxe?: boolean; arches?: number[]; vendorPrefix?: string; file: string | undefined; vendorClass?: string }[];
  nextServer: string | undefined;
}

export function parseIsc(text: string): IscConfig {
  const cfg: IscConfig = { archOption: undefined, reservations: [], branches: [], nextServer: undefined };
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let branch: IscConfig['branches'][number] | undefined;
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^option ([a-z0-9-]+) code 93 = unsigned integer 16;$/.exec(line))) cfg.archOption = m[1];
    else if ((m = /^next-server (\S+);$/.exec(line))) cfg.nextServer = m[1];
    else if (/^(\} )?(if|elsif) /.test(line) || line === '} else {') {
      branch = { file: undefined };
      cfg.branches.push(branch);
      if (/option user-class = "iPXE"/.test(line)) branch.ipxe = true;
      const arches = [...line.matchAll(/option ([a-z0-9-]+) = ([0-9a-f]{2}):([0-9a-f]{2})/g)].map((a) => {
        if (a[1] !== cfg.archOption) throw new Error(`isc: ${a[1]} is not the declared option 93 (${cfg.archOption})`);
        return parseInt(a[2]! + a[3]!, 16);
      });
      if (arches.length) branch.arches = arches;
      const vendor = /substring\(option vendor-class-identifier, 0, (\d+)\) = "([^"]*)"/.exec(line);
      if (vendor) {
        if (Number(vendor[1]) !== vendor[2]!.length) throw new Error(`isc: substring length ${vendor[1]} is not the length of "${vendor[2]}"`);
        branch.vendorPrefix = vendor[2]!;
      }
    } else if ((m = /^option vendor-class-identifier "([^"]*)";$/.exec(line))) {
      if (!branch) throw new Error('isc: option 60 outside the if chain');
      branch.vendorClass = m[1];
    } else if ((m = /^filename "([^"]*)";$/.exec(line))) {
      if (!branch) throw new Error('isc: filename outside the if chain');
      branch.file = m[1];
    } else if ((m = /^host (\S+) \{ (.*) \}$/.exec(line))) {
      const r: Reservation = { mac: '' };
      for (const stmt of m[2]!.split(';').map((s) => s.trim()).filter(Boolean)) {
        let s: RegExpExecArray | null;
        if ((s = /^hardware ethernet (\S+)$/.exec(stmt))) r.mac = s[1]!.toLowerCase();
        else if ((s = /^fixed-address (\S+)$/.exec(stmt))) r.address = s[1];
        else if ((s = /^option host-name "([^"]*)"$/.exec(stmt))) r.hostname = s[1];
        else throw new Error(`isc: unexpected statement ${stmt}`);
      }
      cfg.reservations.push(r);
    } else if (line === '}' || line === 'group {') branch = line === '}' ? undefined : branch;
    else throw new Error(`isc: unexpected line ${line}`);
  }
  return cfg;
}

export function iscOffer(cfg: IscConfig, ask: ClientAsk): BootOffer {
  // The chain sits in the hosts' group: a MAC that is not declared there gets nothing from it.
  if (!ask.known) return { file: undefined, matches: 0 };
  for (const b of cfg.branches) {
    if (b.ipxe && !ask.ipxe) continue;
    if (b.arches && !b.arches.includes(ask.arch)) continue;
    if (b.vendorPrefix !== undefined && !ask.vendorClass?.startsWith(b.vendorPrefix)) continue;
    return { file: b.file, matches: 1, ...(b.vendorClass !== undefined ? { vendorClass: b.vendorClass } : {}) };
  }
  return { file: undefined, matches: 0 };
}
