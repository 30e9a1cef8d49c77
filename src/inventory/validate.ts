/**
 * Validation of the small values every generated file is built from: names, MACs, paths, kernel
 * arguments, network addresses. Each check returns the normalised value or a message saying what
 * is accepted; the schemas turn those messages into errors that name the inventory path.
 */
import { isIPv4 } from 'node:net';

/** Names of guests, images and clients: safe as file names, libvirt and xl domain names. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const NAME_RULE = '1-63 characters: letters, digits, "_", "-", "." (not first)';

export function checkName(value: string): string | undefined {
  if (!NAME_RE.test(value)) return `must be ${NAME_RULE}`;
  return undefined;
}

const MAC_RE = /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
export const MAC_RULE = 'six hex byte pairs separated by ":" or "-" (e.g. 00:16:3e:12:34:56), unicast, not all zero';

/** Normalises a MAC (any case, ":" or "-" or none) to lower case with colons, or returns undefined. */
export function parseMac(value: string): string | undefined {
  const m = MAC_RE.exec(value.trim());
  if (!m) return undefined;
  const bytes = [m[1], m[3], m[4], m[5], m[6], m[7]].map((b) => (b as string).toLowerCase());
  const mac = bytes.join(':');
  if (mac === '00:00:00:00:00:00') return undefined;
  if (parseInt(bytes[0] as string, 16) & 1) return undefined; // multicast / broadcast
  return mac;
}

export function macProblem(value: string): string | undefined {
  return parseMac(value) === undefined ? `must be ${MAC_RULE}` : undefined;
}

/**
 * Characters that cannot be carried safely through every target format: xl/xm cfg strings are
 * single-quoted (no quotes or backslashes inside), XML 1.0 forbids most control characters and
 * the noncharacters U+FFFE/U+FFFF, pxelinux and iPXE lines end at a newline, the kernel splits
 * arguments at spaces and quotes, and a lone surrogate is not text at all (it cannot be written
 * as UTF-8). C1 controls (U+0080-U+009F) act as terminal controls on a console.
 */
const UNSAFE_RE = /['"\\\u0000-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function unsafeChar(value: string): string | undefined {
  const m = UNSAFE_RE.exec(value);
  if (!m) return undefined;
  const ch = m[0];
  const code = ch.charCodeAt(0);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `control character ${hex}`;
  if (code >= 0xd800 && code <= 0xdfff) return `lone surrogate ${hex}`;
  if (code === 0xfffe || code === 0xffff) return `noncharacter ${hex}`;
  return `character ${ch}`;
}

export const PATH_RULE = 'an absolute path without "..", quotes, backslashes or control characters';

export function checkAbsPath(value: string): string | undefined {
  if (!value.startsWith('/')) return `must be ${PATH_RULE}`;
  if (value.split('/').some((seg) => seg === '..')) return `${JSON.stringify(value)} has a ".." segment (a link on the way would take it elsewhere); must be ${PATH_RULE}`;
  const bad = unsafeChar(value);
  if (bad) return `contains a ${bad}; must be ${PATH_RULE}`;
  if (/\s/.test(value)) return `contains white space; must be ${PATH_RULE}`;
  return undefined;
}

/**
 * The normal form of an absolute path, the one every rule judges and every file holds: repeated
 * slashes, empty and `.` segments and a trailing slash removed (`//etc/./xenroot/` is
 * `/etc/xenroot`; "/" stays "/"). Lexical only: a `..` segment is kept for the caller to refuse
 * (checkAbsPath), since only the filesystem knows where it leads. Pure.
 */
export function normalPath(path: string): string {
  const segs = path.split('/').filter((s) => s !== '' && s !== '.');
  return `/${segs.join('/')}`;
}

/** Kernel command line max on x86 (COMMAND_LINE_SIZE) including the terminating NUL. */
export const CMDLINE_MAX = 2047;
export const KARGS_RULE = 'space-separated kernel arguments without quotes, backslashes or control characters';

export function checkKernelArgs(value: string): string | undefined {
  const bad = unsafeChar(value);
  if (bad) return `contains a ${bad}; must be ${KARGS_RULE}`;
  if (value.length > CMDLINE_MAX) return `is ${value.length} bytes; the kernel takes at most ${CMDLINE_MAX}`;
  return ipxeProblem(value);
}

/**
 * What iPXE's script reader would not pass through as written (src/core/exec.c: every
 * white-space separated token is expanded by expand_settings, so `${...}` becomes a setting's
 * value; a token starting with "#" ends the line as a comment; the tokens "||", "&&" and ";" end
 * the command). iPXE scripts carry the same command lines as pxelinux and GRUB, so these are
 * refused for every boot path.
 */
function ipxeProblem(value: string): string | undefined {
  if (value.includes('${')) return 'contains "${", which iPXE replaces with the value of one of its settings (write the value itself)';
  for (const t of value.split(/\s+/)) {
    if (t.startsWith('#')) return `contains the word "${t}": iPXE reads a word starting with "#" as a comment and drops the rest of the line`;
    if (t === '||' || t === '&&' || t === ';') return `contains the word "${t}", which ends a command in an iPXE script`;
  }
  return undefined;
}

/** Host names (RFC 1123) or dotted IPv4 addresses: what NFS root and pxelinux accept. */
const HOST_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export function checkHost(value: string): string | undefined {
  if (isIPv4(value)) return undefined;
  if (/^\d+(\.\d+)*$/.test(value)) return 'must be a dotted IPv4 address (0-255 each) or a host name';
  if (HOST_RE.test(value)) return undefined;
  return 'must be an IPv4 address or a host name (letters, digits, "-", ".")';
}

/** An IPv4 address as a 32-bit unsigned number (the caller checked isIPv4). */
export function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

/** A 32-bit unsigned number as a dotted IPv4 address. */
export function ipv4Dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** The network mask of a prefix length (0-32) as a 32-bit unsigned number. */
export function prefixMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

export const CIDR_RULE = 'an IPv4 network in CIDR form such as 192.168.1.0/24';

/** An IPv4 network `a.b.c.d/n` with no host bits set (what exports(5) and DHCP configs read as a network). */
export function checkCidr(value: string): string | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(value);
  if (!m || !isIPv4(m[1] as string) || Number(m[2]) > 32) return `must be ${CIDR_RULE}`;
  const bits = Number(m[2]);
  const addr = ipv4Number(m[1] as string);
  const net = (addr & prefixMask(bits)) >>> 0;
  if (net !== addr)
    return `has host bits set: write the network ${ipv4Dotted(net)}/${bits}, or ${m[1]}/32 for that one host`;
  return undefined;
}

export const NETWORK_RULE =
  'an IPv4 address, an IPv4 network in CIDR form (10.0.0.0/24), a host name, a host name wildcard such as *.lab.example or pc-??.lab, a netgroup @NAME, or * (everyone)';

/** The CIDR an IP wildcard such as 10.0.0.* was meant as (leading whole octets), or undefined. */
function cidrForIpWildcard(value: string): string | undefined {
  const octets = value.split('.');
  const whole: string[] = [];
  for (const o of octets) {
    if (/^\d{1,3}$/.test(o) && Number(o) <= 255) whole.push(o);
    else break;
  }
  const rest = octets.slice(whole.length);
  // Only "*" octets after the whole ones (10.0.0.*, 10.0.*.*, 10.*): a network on an octet boundary.
  if (whole.length === 0 || whole.length > 3 || rest.length === 0 || rest.some((o) => o !== '*')) return undefined;
  if (whole.length + rest.length > 4) return undefined;
  const net = [...whole, ...Array(4 - whole.length).fill('0')].join('.');
  return `${net}/${whole.length * 8}`;
}

/**
 * The client forms of an exports(5) line xenroot writes from `site.allow`. exports(5): "Wildcard
 * characters generally do not work on IP addresses, though they may work by accident when reverse
 * DNS lookups fail" (nfs-utils 2.6): a pattern made of digits, dots and wildcards (10.0.0.*) is
 * refused, naming the CIDR to use. A network with host bits set (10.0.0.5/24) is refused as
 * ambiguous (the network, or one host?). Dotted netmasks are refused in favour of the CIDR.
 */
export function checkNetwork(value: string): string | undefined {
  if (value === '*') return undefined;
  if (isIPv4(value)) return undefined;
  if (value.includes('/')) {
    const mask = /^([\d.]+)\/(\d+\.\d+\.\d+\.\d+)$/.exec(value);
    if (mask && isIPv4(mask[1] as string) && isIPv4(mask[2] as string)) {
      const m = ipv4Number(mask[2] as string);
      const bits = 32 - Math.log2((~m >>> 0) + 1);
      if (Number.isInteger(bits) && prefixMask(bits) === m) return `is a dotted netmask: write it as ${ipv4Dotted((ipv4Number(mask[1] as string) & m) >>> 0)}/${bits}`;
    }
    return checkCidr(value);
  }
  if (/^@[A-Za-z0-9_.-]+$/.test(value)) return undefined;
  if (/^[\d.*?[\]-]+$/.test(value) && /[*?[\]]/.test(value)) {
    const cidr = cidrForIpWildcard(value);
    return `is an IP address wildcard, which exports(5) does not match against addresses (wildcards match host names only): ${cidr ? `use the CIDR ${cidr}` : 'use a CIDR such as 10.0.0.0/24 that covers the addresses meant'}`;
  }
  if (/^[\d.]+$/.test(value)) return `is not a valid IPv4 address; must be ${NETWORK_RULE}`;
  // Host names and host name patterns: labels of letters, digits, "-" and the wildcards * ? [ ].
  const labels = value.split('.');
  if (value.length <= 253 && labels.every((l) => /^[A-Za-z0-9*?[\]](?:[A-Za-z0-9*?[\]-]{0,61}[A-Za-z0-9*?[\]])?$/.test(l)) && !/\[[^\]]*$/.test(value))
    return undefined;
  return `must be ${NETWORK_RULE}`;
}

export const BRIDGE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
export const BRIDGE_RULE = '1-15 characters: letters, digits, "_", "-", "." (a Linux interface name)';

export const KVER_RE = /^[0-9][A-Za-z0-9._+~-]{0,127}$/;
export const KVER_RULE = 'a kernel release such as 6.1.0-28-amd64';

/** An NFS root given as SERVER:/PATH (a client's `root:` override, the HOWTO's `root=server:/path`). */
export const ROOT_SPEC_RULE = 'SERVER:/PATH with an IPv4 address or host name and an absolute path, e.g. 10.0.0.1:/srv/xenroot/terminal';

/** Splits SERVER:/PATH, or undefined when it is not one. Pure. */
export function parseRootSpec(value: string): { server: string; path: string } | undefined {
  const m = /^([^:/]+):(\/.*)$/.exec(value);
  if (!m || checkHost(m[1] as string) || checkAbsPath(m[2] as string)) return undefined;
  return { server: m[1] as string, path: m[2] as string };
}

export function rootSpecProblem(value: string): string | undefined {
  return parseRootSpec(value) ? undefined : `must be ${ROOT_SPEC_RULE}`;
}

export const HOSTNAME_RULE = 'a host name: dot-separated labels of letters, digits and "-" (not first or last), at most 63 characters each and 253 in all';

/** A host name (RFC 1123 section 2.1): what /etc/hostname and DHCP carry. */
export function hostnameProblem(value: string): string | undefined {
  if (value.length === 0 || value.length > 253) return `must be ${HOSTNAME_RULE}`;
  if (!value.split('.').every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))) return `must be ${HOSTNAME_RULE}`;
  return undefined;
}

/**
 * The host name a node gets when the inventory gives none: its name where that is a host name,
 * else the name with every character a host name cannot hold made "-" (odd_name: odd-name).
 */
export function defaultHostname(name: string): string {
  if (!hostnameProblem(name)) return name;
  const fixed = name
    .replace(/[^A-Za-z0-9.-]/g, '-')
    .split('.')
    .map((l) => l.replace(/^-+|-+$/g, '').slice(0, 63) || 'node')
    .join('.');
  return hostnameProblem(fixed) ? 'node' : fixed;
}

export const ADDRESS_RULE = 'an IPv4 address, with its prefix length when the site\'s DHCP subnet does not give it (10.0.2.50/24)';

/** A node's static address: a dotted IPv4, optionally with /PREFIX (1-32). */
export function addressProblem(value: string): string | undefined {
  const m = /^([\d.]+)(?:\/(\d{1,2}))?$/.exec(value);
  if (!m || !isIPv4(m[1] as string) || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 32))) return `must be ${ADDRESS_RULE}`;
  // No machine can hold these; Kea refuses a reservation of either.
  if (m[1] === '0.0.0.0' || m[1] === '255.255.255.255') return `is the ${m[1] === '0.0.0.0' ? 'unspecified' : 'broadcast'} address: must be ${ADDRESS_RULE}`;
  return undefined;
}

/** A dotted IPv4 address (a gateway). */
export function ipv4AddressProblem(value: string): string | undefined {
  return isIPv4(value) ? undefined : 'must be a dotted IPv4 address such as 10.0.2.2';
}

/**
 * A destination path of a per-node file: absolute, no "..", none of the kernel's filesystems
 * (/proc, /sys, /dev) however it is spelled (judged in its normal form), not a directory.
 */
export function nodeFilePathProblem(value: string): string | undefined {
  const p = checkAbsPath(value);
  if (p) return p;
  if (value === '/' || value.endsWith('/') || /\/\.?$/.test(value)) return 'must name a file, not a directory';
  if (/^\/(proc|sys|dev)(\/|$)/.test(normalPath(value))) return 'is on a filesystem the kernel provides (/proc, /sys, /dev): a file cannot be placed there';
  return undefined;
}
