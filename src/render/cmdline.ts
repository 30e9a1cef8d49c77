/**
 * The one builder of kernel command lines (docs/cmdline.md is the contract). Pure: model values
 * in, a string out; values that cannot be carried safely, and arguments an initrd would read as a
 * contradiction, are refused with a RenderError.
 *
 * Each initrd reads its own dialect (sources: dracut 059 modules.d/95nfs/parse-nfsroot.sh and
 * 40network/net-lib.sh; initramfs-tools 0.142 init, scripts/functions and klibc's nfsmount/ipconfig;
 * the kernel's Documentation/admin-guide/nfs/nfsroot.rst; the StatelessLinux HOWTO for mkinitrd;
 * xenroot's own templates/initrd/cmdline.sh):
 *
 *   builtin          root=nfs[4]:SERVER:/PATH[:OPTS] ro ip=dhcp
 *   dracut           root=nfs[4]:SERVER:/PATH[:OPTS] ro ip=dhcp rd.neednet=1 rootovl
 *   initramfs-tools  v4: root=nfs4:SERVER:/PATH[:OPTS] ro ip=dhcp   (xenroot's BOOT=xenroot script)
 *                    v3: root=/dev/nfs nfsroot=SERVER:/PATH[,OPTS] ro ip=dhcp (stock, klibc nfsmount)
 *                    SERVER must be an IPv4 address (klibc resolves no names)
 *   mkinitrd         root=SERVER:/PATH [rootfstype=nfs4] [rootflags=OPTS] ro ip=dhcp
 *
 * followed by the console, selinux=0, and the user's arguments (image append, then the node's).
 * A user argument that conflicts with a generated one replaces it instead of following it: the
 * root (root=/nfsroot=, as one pair), ip=, BOOTIF=, ro/rw and the other single-valued arguments
 * appear once, with the value of the last source that gives one.
 */
import { isIPv4 } from 'node:net';
import { RenderError } from '../sys/errors.js';
import type { BootTarget, InitrdBuilder, InventoryData } from '../inventory/schema.js';
import { exportPath } from '../inventory/paths.js';
import { requireEntry } from '../inventory/lookup.js';
import { CMDLINE_MAX, checkKernelArgs, parseRootSpec } from '../inventory/validate.js';
import { nfsClientPath } from '../inventory/exports.js';

/** The console a command line names: the machine kind it boots on. */
export type ConsoleKind = BootTarget;

/** Which initrd reads the command line: one dialect per initrd builder. */
export type CmdlineDialect = InitrdBuilder;

export interface CmdlineInput {
  /** NFS server address or host name. */
  server: string;
  /** Exported path of the root filesystem. */
  path: string;
  nfsVersion: 3 | 4;
  /** Comma-separated mount options ("" for none). */
  nfsOptions?: string;
  console: ConsoleKind;
  selinux?: boolean;
  /** The initrd that reads the line (default builtin). */
  dialect?: CmdlineDialect;
  /** Arguments appended last, in order (image append, then guest or client append, then a test's own). */
  extra?: (string | undefined)[];
}

const CONSOLES: Record<ConsoleKind, string> = {
  xen: 'console=hvc0',
  qemu: 'console=ttyS0',
  // Physical machines: kernel messages on serial and screen, the screen is /dev/console.
  pxe: 'console=ttyS0,115200 console=tty0',
};

/** root=nfs:SERVER:/PATH[:OPTS] (NFSv3) or root=nfs4:SERVER:/PATH[:OPTS]. */
export function nfsRootArg(server: string, path: string, version: 3 | 4, options = ''): string {
  const scheme = version === 4 ? 'nfs4' : 'nfs';
  return `root=${scheme}:${server}:${path}${options ? `:${options}` : ''}`;
}

/** The arguments that name the root in a dialect (pure). */
export function rootArgs(dialect: CmdlineDialect, server: string, path: string, version: 3 | 4, options = ''): string[] {
  switch (dialect) {
    case 'builtin':
    case 'dracut':
      return [nfsRootArg(server, path, version, options)];
    case 'initramfs-tools':
      if (!isIPv4(server))
        throw new RenderError(`NFS server "${server}" is a host name; an initramfs-tools initrd mounts the root with klibc, which resolves no names`, {
          hint: 'set site.nfsServer (or the root: override) to the server\'s IPv4 address, or build the initrd with --builder builtin or dracut',
        });
      // v4: xenroot's BOOT=xenroot script (stock initramfs-tools cannot mount NFSv4); v3: the stock form.
      return version === 4 ? [nfsRootArg(server, path, 4, options)] : ['root=/dev/nfs', `nfsroot=${server}:${path}${options ? `,${options}` : ''}`];
    case 'mkinitrd':
      return [`root=${server}:${path}`, ...(version === 4 ? ['rootfstype=nfs4'] : []), ...(options ? [`rootflags=${options}`] : [])];
  }
}

/** The generated part of a line: root, ro, ip=dhcp, what the dialect needs to bring the network up, console, selinux. */
function generatedArgs(input: CmdlineInput, dialect: CmdlineDialect): string[] {
  const parts = [...rootArgs(dialect, input.server, input.path, input.nfsVersion, input.nfsOptions ?? ''), 'ro', 'ip=dhcp'];
  // dracut: bring the network up; rootovl: the tmpfs-upper overlay over the NFS root (xenroot's
  // dracut builds carry overlay-root's hook), as the built-in and initramfs-tools initrds make it.
  if (dialect === 'dracut') parts.push('rd.neednet=1', 'rootovl');
  parts.push(...CONSOLES[input.console].split(' '));
  if (!input.selinux) parts.push('selinux=0');
  return parts;
}

export function buildCmdline(input: CmdlineInput): string {
  const dialect = input.dialect ?? 'builtin';
  const sources = [generatedArgs(input, dialect), ...(input.extra ?? []).map(splitArgs)];
  const line = resolveArgs(sources, dialect).join(' ');
  const problem = checkKernelArgs(line);
  if (problem) throw new RenderError(`kernel command line ${problem}`, { hint: 'shorten the append arguments of the image, guest or client' });
  if (line.length > CMDLINE_MAX) throw new RenderError(`kernel command line is too long`);
  return line;
}

/**
 * The command line of one node (a guest, or a PXE client) booting `imageName`: the one place that
 * gathers a command line's inputs from the model (site NFS server and options, the image's
 * export, NFS version, initrd builder and append, the node's root override and append).
 * `extra` comes last (a test boot's own arguments).
 */
export function nodeCmdline(
  data: InventoryData,
  imageName: string,
  node: { append?: string | undefined; root?: string | undefined },
  console: ConsoleKind,
  extra?: string,
): string {
  const site = data.site;
  const image = requireEntry(data, 'image', imageName);
  const override = node.root ? parseRootSpec(node.root) : undefined;
  return buildCmdline({
    server: override?.server ?? site.nfsServer,
    // NFSv4 with a pseudo-root (fsid=0) names paths relative to it (inventory/exports.ts).
    path: nfsClientPath(override?.path ?? exportPath(site, imageName, image), image.nfsVersion ?? site.nfsVersion, override && override.server !== site.nfsServer ? undefined : site.exports.pseudoRoot),
    nfsVersion: image.nfsVersion ?? site.nfsVersion,
    nfsOptions: image.nfsOptions ?? site.nfsOptions,
    console,
    selinux: site.selinux,
    dialect: image.initrdBuilder ?? 'builtin',
    extra: [image.append, node.append, extra],
  });
}

/** Whether a command line carries an argument KEY (`KEY` or `KEY=...`). Pure. */
export function hasArg(cmdline: string, key: string): boolean {
  return splitArgs(cmdline).some((a) => argKey(a) === key);
}

// ---- conflict resolution -------------------------------------------------------------------

function splitArgs(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter(Boolean);
}

/** The key of an argument: `ip` of ip=dhcp, `ro` of ro. */
export function argKey(arg: string): string {
  const eq = arg.indexOf('=');
  return eq < 0 ? arg : arg.slice(0, eq);
}

function argValue(arg: string): string | undefined {
  const eq = arg.indexOf('=');
  return eq < 0 ? undefined : arg.slice(eq + 1);
}

/**
 * Arguments that hold one value: every reader takes one (usually the last), so two of them on a
 * line are at best noise and at worst read differently by two readers (kernel and initrd).
 * ro and rw are one setting.
 */
const SINGLE = new Set([
  'BOOTIF', 'selinux', 'enforcing', 'init', 'rdinit', 'panic', 'loglevel', 'quiet', 'net.ifnames', 'biosdevname',
  'rd.neednet', 'rd.shell', 'rd.retry', 'rd.emergency', 'rd.bootif', 'rd.info', 'rd.debug', 'rootovl',
  'rootdelay', 'rootwait', 'rootfstype', 'rootflags', 'boot', 'systemd.unit', 'systemd.volatile',
  'xenroot.overlay', 'xenroot.marker', 'xenroot.modules',
]);

function settingOf(arg: string): string {
  const key = argKey(arg);
  if (arg === 'ro' || arg === 'rw') return 'ro/rw';
  // rd.shell and rd.shell=0 are the same setting.
  return key;
}

type Tagged = { arg: string; source: number };

/**
 * Resolves the generated arguments (source 0) and the user's (sources 1..n, later wins) into one
 * line without contradictions. Throws a RenderError naming the argument an initrd of `dialect`
 * could not honour. Exported for the property test.
 */
export function resolveArgs(sources: string[][], dialect: CmdlineDialect): string[] {
  const tagged: Tagged[] = sources.flatMap((args, source) => args.map((arg) => ({ arg, source })));
  const user = tagged.filter((t) => t.source > 0);

  // The root: root= and nfsroot= are one pair; the last source that names either gives both.
  const rootSource = lastSource(user, (a) => argKey(a) === 'root' || argKey(a) === 'nfsroot');
  let rootPair: string[] | undefined;
  if (rootSource !== undefined) rootPair = userRoot(user.filter((t) => t.source === rootSource).map((t) => t.arg), dialect);

  // ip=: the last source that gives any; several only where the dialect reads several.
  const ipSource = lastSource(user, (a) => argKey(a) === 'ip');
  let ips: string[] | undefined;
  if (ipSource !== undefined) ips = userIps(user.filter((t) => t.source === ipSource && argKey(t.arg) === 'ip').map((t) => t.arg), dialect);

  const out: Tagged[] = [];
  let rootPlaced = false;
  let ipPlaced = false;
  for (const t of tagged) {
    const key = argKey(t.arg);
    if (key === 'root' || key === 'nfsroot' || (t.source === 0 && (key === 'rootfstype' || key === 'rootflags') && rootPair)) {
      if (rootPair) {
        if (!rootPlaced) out.push(...rootPair.map((arg) => ({ arg, source: rootSource! })));
        rootPlaced = true;
        continue;
      }
      out.push(t);
      continue;
    }
    if (key === 'ip') {
      if (ips) {
        if (!ipPlaced) out.push(...ips.map((arg) => ({ arg, source: ipSource! })));
        ipPlaced = true;
        continue;
      }
      out.push(t);
      continue;
    }
    out.push(t);
  }

  // Single-valued settings: the last one given wins, at its own place. Any argument given twice
  // verbatim is kept once, at its last place (for console= the last is /dev/console).
  const lastOf = new Map<string, number>();
  const lastText = new Map<string, number>();
  out.forEach((t, i) => {
    if (SINGLE.has(settingOf(t.arg)) || settingOf(t.arg) === 'ro/rw') lastOf.set(settingOf(t.arg), i);
    lastText.set(t.arg, i);
  });
  const kept = out.filter((t, i) => {
    const s = settingOf(t.arg);
    if ((SINGLE.has(s) || s === 'ro/rw') && lastOf.get(s) !== i) return false;
    return lastText.get(t.arg) === i;
  });
  const line = kept.map((t) => t.arg);
  if (rootPair) serverlessRootCheck(line);
  // Loader-appended BOOTIF (pxelinux IPAPPEND 2, iPXE) is left out by the renderers when one is here.
  return line;
}

/**
 * A root that names no server (nfsroot=/PATH, root=nfs:/PATH, root=/dev/nfs, root=dhcp) takes it
 * from DHCP (root-path, next-server) in every initrd; with only static ip= there is no DHCP, and
 * neither the root nor ip='s SERVER field names one: dracut dies ("Server-ip or dhcp for netboot
 * needed", 95nfs/parse-nfsroot.sh) and the others cannot mount. Refused here instead.
 */
function serverlessRootCheck(line: string[]): void {
  const root = line.find((a) => argKey(a) === 'nfsroot') ?? line.find((a) => argKey(a) === 'root');
  if (root === undefined) return;
  const value = argValue(root) ?? '';
  const named = argKey(root) === 'nfsroot' ? /^[^/:,]+:\//.test(value) : (() => {
    const form = rootForm(value);
    return form !== 'dev-nfs' && form !== 'dhcp' && rootServer(form, value) !== undefined;
  })();
  if (named) return;
  const ips = line.filter((a) => argKey(a) === 'ip').map((a) => argValue(a) ?? '');
  if (ips.length === 0) return;
  const staticNoServer = (v: string) => {
    const ip = parseIp(v);
    return ip.form === 'kernel' && ip.client !== '' && STATIC_LIKE.includes(ip.method) && !(v.split(':')[1] ?? '');
  };
  if (ips.every(staticNoServer))
    throw new RenderError(`${root} names no NFS server and ip=${ips[0]} is static: there is no DHCP to name one`, {
      hint: 'write the server in the root (nfsroot=SERVER:/PATH) or in the SERVER field of ip=',
    });
}

function lastSource(user: Tagged[], pred: (arg: string) => boolean): number | undefined {
  let s: number | undefined;
  for (const t of user) if (pred(t.arg)) s = t.source;
  return s;
}

/** The kinds of root= an admin may write. */
export type RootForm = 'nfs' | 'nfs4' | 'dev-nfs' | 'server-path' | 'nfs-url' | 'dhcp' | 'other';

export function rootForm(value: string): RootForm {
  if (value.startsWith('nfs://')) return 'nfs-url';
  if (value.startsWith('nfs4:')) return 'nfs4';
  if (value.startsWith('nfs:')) return 'nfs';
  if (value === '/dev/nfs') return 'dev-nfs';
  if (value === 'dhcp') return 'dhcp';
  if (/^[^:/=]+:\//.test(value)) return 'server-path';
  return 'other';
}

/** The root= forms each initrd reads (docs/cmdline.md). */
const ROOT_FORMS: Record<CmdlineDialect, RootForm[]> = {
  builtin: ['nfs', 'nfs4', 'dev-nfs', 'server-path', 'dhcp'],
  // root=nfs://SERVER/PATH (RFC 2224): dracut 059's parse-nfsroot.sh turns it into an empty server and
  // the path //SERVER/PATH (test/render/cmdline-dracut.test.ts), so no dialect takes it.
  dracut: ['nfs', 'nfs4', 'dev-nfs', 'server-path', 'dhcp'],
  'initramfs-tools': ['nfs', 'nfs4', 'dev-nfs', 'server-path'],
  mkinitrd: ['server-path'],
};

const ROOT_FORM_TEXT: Record<RootForm, string> = {
  nfs: 'root=nfs:SERVER:/PATH[:OPTS]',
  nfs4: 'root=nfs4:SERVER:/PATH[:OPTS]',
  'dev-nfs': 'root=/dev/nfs nfsroot=[SERVER:]PATH[,OPTS]',
  'server-path': 'root=SERVER:/PATH',
  'nfs-url': 'root=nfs://SERVER[:PORT]/PATH',
  dhcp: 'root=dhcp (the DHCP root-path)',
  other: '',
};

/** The server a root= or nfsroot= value names, when it names one. */
function rootServer(form: RootForm, value: string): string | undefined {
  if (form === 'nfs' || form === 'nfs4') {
    const spec = value.slice(form.length + 1);
    return spec.startsWith('/') ? undefined : spec.split(':')[0];
  }
  if (form === 'server-path') return value.split(':')[0];
  return undefined;
}

function userRoot(args: string[], dialect: CmdlineDialect): string[] {
  const roots = [...new Set(args.filter((a) => argKey(a) === 'root'))];
  const nfsroots = [...new Set(args.filter((a) => argKey(a) === 'nfsroot'))];
  if (roots.length > 1) throw new RenderError(`${roots.join(' ')}: one append names two roots; give one`);
  if (nfsroots.length > 1) throw new RenderError(`${nfsroots.join(' ')}: one append names two roots; give one`);
  const accepted = ROOT_FORMS[dialect].map((f) => ROOT_FORM_TEXT[f]).join(', ');
  const nfsroot = nfsroots[0];
  const root = roots[0];
  const value = root === undefined ? undefined : (argValue(root) ?? '');
  const form = value === undefined ? undefined : rootForm(value);
  if (nfsroot !== undefined) {
    if (form !== undefined && form !== 'dev-nfs')
      throw new RenderError(`${root} ${nfsroot}: one append names two different roots; nfsroot= is read only with root=/dev/nfs`, { hint: 'keep one of them' });
    if (!ROOT_FORMS[dialect].includes('dev-nfs'))
      throw new RenderError(`${nfsroot}: a ${dialect} initrd does not read nfsroot=`, { hint: `it reads ${accepted}` });
    const server = /^([^/:,]+):\//.exec(argValue(nfsroot) ?? '')?.[1];
    checkServer(dialect, server, nfsroot);
    return ['root=/dev/nfs', nfsroot];
  }
  if (form === 'other')
    throw new RenderError(`${root} is not an NFS root: xenroot machines boot from NFS`, { hint: `a ${dialect} initrd reads ${accepted}` });
  if (!ROOT_FORMS[dialect].includes(form!)) throw new RenderError(`${root}: a ${dialect} initrd does not read this form of root=`, { hint: `it reads ${accepted}` });
  checkServer(dialect, rootServer(form!, value!), root!);
  return [root!];
}

function checkServer(dialect: CmdlineDialect, server: string | undefined, arg: string): void {
  if (dialect === 'initramfs-tools' && server !== undefined && !isIPv4(server))
    throw new RenderError(`${arg}: an initramfs-tools initrd mounts with klibc, which resolves no host names`, { hint: 'name the NFS server by its IPv4 address' });
}

// ---- ip= -----------------------------------------------------------------------------------

/** One ip= value as the initrds read it: a method alone, IFACE:METHOD (dracut), or the kernel's CLIENT:SERVER:GW:MASK:HOST:DEV:AUTOCONF[:...]. */
export interface IpSpec {
  form: 'method' | 'iface-method' | 'kernel';
  /** dhcp, on, any, none, off, static, dhcp6, ...; '' when the kernel form leaves it empty. */
  method: string;
  client: string;
  mask: string;
  device: string;
}

const METHODS = ['dhcp', 'on', 'any', 'dhcp6', 'auto6', 'either6', 'single-dhcp', 'link6', 'ibft', 'none', 'off', 'bootp', 'rarp', 'both', 'static'];

export function parseIp(value: string): IpSpec {
  if (!value.includes(':')) return { form: 'method', method: value, client: '', mask: '', device: '' };
  const f = value.split(':');
  // dracut's IFACE:METHOD[:MTU[:MAC]]: the second field is a method word.
  if (f.length <= 4 && METHODS.includes(f[1] ?? '') && !isIPv4(f[0] ?? '')) return { form: 'iface-method', method: f[1]!, client: '', mask: '', device: f[0]! };
  return { form: 'kernel', method: f[6] ?? '', client: f[0] ?? '', mask: f[3] ?? '', device: f[5] ?? '' };
}

const DHCP_LIKE = ['dhcp', 'on', 'any', ''];
const STATIC_LIKE = ['none', 'off', 'static', ''];

/** Why a dialect cannot honour one ip= value (undefined: it can). */
export function ipProblem(dialect: CmdlineDialect, value: string): string | undefined {
  const ip = parseIp(value);
  const noNet = 'an NFS root needs the network';
  switch (dialect) {
    case 'builtin':
      if (ip.form === 'method') return ['dhcp', 'on', 'any'].includes(ip.method) ? undefined : ['none', 'off'].includes(ip.method) ? noNet : 'the built-in initrd reads ip=dhcp or the static kernel form';
      if (ip.form === 'iface-method') return ['dhcp', 'on', 'any'].includes(ip.method) ? undefined : 'the built-in initrd reads ip=IFACE:dhcp, not other methods';
      if (ip.client) return STATIC_LIKE.includes(ip.method) ? (isIPv4(ip.client) && ip.mask ? undefined : 'a static ip= needs CLIENT and MASK as IPv4 addresses') : `a client address with autoconf "${ip.method}" is a contradiction`;
      return DHCP_LIKE.includes(ip.method) ? undefined : `the built-in initrd does not do autoconf "${ip.method}"`;
    case 'dracut':
      if (['bootp', 'rarp', 'both'].includes(ip.method)) return `dracut does not support ${ip.method}`;
      if (ip.form === 'method') return ['none', 'off'].includes(ip.method) ? noNet : METHODS.includes(ip.method) ? undefined : `dracut does not know the method "${ip.method}"`;
      if (ip.form === 'iface-method') return ['none', 'off'].includes(ip.method) ? noNet : undefined;
      if (ip.client && ['dhcp', 'on', 'any', 'dhcp6', 'auto6'].includes(ip.method)) return `dracut refuses a client address with "${ip.method}" ("setting client-ip does not make sense for '${ip.method}'")`;
      if (['none', 'off', 'static', ''].includes(ip.method) && (!ip.client || !ip.mask)) return 'dracut needs CLIENT and MASK for a static ip=';
      return undefined;
    case 'initramfs-tools':
      if (ip.form === 'iface-method') return 'initramfs-tools reads the kernel form: write :::::IFACE:dhcp';
      if (ip.form === 'method') return ['none', 'off'].includes(ip.method) ? noNet : ['dhcp', 'on', 'any', 'bootp', 'rarp', 'both'].includes(ip.method) ? undefined : `klibc ipconfig does not know "${ip.method}"`;
      if (ip.client && ['none', 'off', 'static', ''].includes(ip.method) && !ip.mask) return 'a static ip= needs MASK';
      return undefined;
    case 'mkinitrd':
      if (ip.form === 'method') return ['none', 'off'].includes(ip.method) ? noNet : undefined;
      return undefined;
  }
}

function userIps(args: string[], dialect: CmdlineDialect): string[] {
  const values = [...new Set(args)].map((a) => argValue(a) ?? '');
  for (const v of values) {
    const problem = ipProblem(dialect, v);
    if (problem) throw new RenderError(`ip=${v} cannot be honoured: ${problem}`, { hint: 'see docs/cmdline.md for the ip= forms each initrd reads' });
  }
  if (values.length > 1) {
    if (dialect !== 'dracut')
      throw new RenderError(`${values.map((v) => `ip=${v}`).join(' ')}: a ${dialect} initrd reads one ip=`, { hint: 'give one ip= (the boot NIC is the BOOTIF one, else the first with a link)' });
    const devices = values.map((v) => parseIp(v).device);
    if (devices.some((d) => !d) || new Set(devices).size !== devices.length)
      throw new RenderError(`${values.map((v) => `ip=${v}`).join(' ')}: with several ip= dracut needs a distinct interface in each ("Sorry, 'ip=dhcp' does not make sense for multiple interface configurations")`, {
        hint: 'name the interface in each ip= (ip=eth0:dhcp ip=eth1:dhcp), or give one ip=',
      });
  }
  return values.map((v) => `ip=${v}`);
}
