/**
 * NFS export options (exports(5)) and the rules that make an export mean what the inventory says:
 * known options only, no contradiction inside one list, `fsid` unique per export and `fsid=0`
 * only on the NFSv4 pseudo-root (`site.exports.pseudoRoot`), every NFSv4 export inside that
 * pseudo-root when there is one, and every path a command line mounts from this server exported.
 * Pure (data in, problems out).
 *
 * Source of the option list and their meaning: exports(5) of nfs-utils 2.6.2 (Debian 12), the
 * parser nfs-utils/support/nfs/exports.c (parseopts). `fsid=0` and `fsid=root` name "the root of
 * all exported filesystems" for NFSv4; with one, NFSv4 clients mount paths relative to it
 * (exports(5), "fsid=num|root|uuid").
 */
import { isIPv4 } from 'node:net';
import { ipv4Number, normalPath as normalised, prefixMask } from './validate.js';

/** Options that take no value, in pairs of opposites (the second undoes the first). */
const FLAG_PAIRS: [string, string][] = [
  ['ro', 'rw'],
  ['sync', 'async'],
  ['secure', 'insecure'],
  ['wdelay', 'no_wdelay'],
  ['hide', 'nohide'],
  ['subtree_check', 'no_subtree_check'],
  ['secure_locks', 'insecure_locks'],
  ['root_squash', 'no_root_squash'],
  ['all_squash', 'no_all_squash'],
  ['pnfs', 'no_pnfs'],
  ['acl', 'no_acl'],
];
/** Flags whose opposite is spelt differently (auth_nlm = secure_locks, no_auth_nlm = insecure_locks). */
const ALIASES: Record<string, string> = { auth_nlm: 'secure_locks', no_auth_nlm: 'insecure_locks', mp: 'mountpoint' };
const SINGLE_FLAGS = ['crossmnt', 'nordirplus', 'security_label'];
/** Options that take a value (mountpoint's is optional), with the rule of the value. */
const VALUED: Record<string, { re: RegExp; rule: string; optional?: boolean }> = {
  fsid: { re: /^(\d{1,10}|root|[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12})$/, rule: 'a number, root, or a UUID' },
  anonuid: { re: /^\d{1,10}$/, rule: 'a numeric user id' },
  anongid: { re: /^\d{1,10}$/, rule: 'a numeric group id' },
  sec: { re: /^(sys|krb5|krb5i|krb5p)(:(sys|krb5|krb5i|krb5p))*$/, rule: 'security flavours separated by ":" (sys, krb5, krb5i, krb5p)' },
  mountpoint: { re: /^\/[A-Za-z0-9._/-]*$/, rule: 'an absolute path', optional: true },
  refer: { re: /^\/[A-Za-z0-9._/-]*@[A-Za-z0-9.+-]+(:\/[A-Za-z0-9._/-]*@[A-Za-z0-9.+-]+)*$/, rule: 'path@host[+host][:path@host]' },
  replicas: { re: /^\/[A-Za-z0-9._/-]*@[A-Za-z0-9.+-]+(:\/[A-Za-z0-9._/-]*@[A-Za-z0-9.+-]+)*$/, rule: 'path@host[+host][:path@host]' },
};

const OPPOSITE = new Map<string, string>();
for (const [a, b] of FLAG_PAIRS) {
  OPPOSITE.set(a, b);
  OPPOSITE.set(b, a);
}
const FLAGS = new Set([...OPPOSITE.keys(), ...SINGLE_FLAGS, ...Object.keys(ALIASES).filter((k) => k !== 'mp')]);

export const EXPORT_OPTIONS_RULE = 'comma-separated exports(5) options such as ro,no_root_squash,no_subtree_check';

/** One parsed option: its canonical key (aliases resolved) and its text as written. */
export interface ExportOption {
  key: string;
  text: string;
  value?: string;
}

/** The group an option belongs to: an option and its opposite share one (a later one replaces an earlier one). */
function slot(key: string): string {
  const opp = OPPOSITE.get(key);
  return opp === undefined ? key : [key, opp].sort().join('|');
}

/** Parses an option list; returns the options or the first problem. */
export function parseExportOptions(value: string): { options: ExportOption[] } | { problem: string } {
  if (value === '') return { options: [] };
  const options: ExportOption[] = [];
  const seen = new Map<string, string>();
  for (const text of value.split(',')) {
    if (text === '') return { problem: `has an empty option (",,"); must be ${EXPORT_OPTIONS_RULE}` };
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    const val = eq < 0 ? undefined : text.slice(eq + 1);
    const key = ALIASES[name] ?? name;
    const valued = VALUED[key];
    if (valued) {
      if (val === undefined && !valued.optional) return { problem: `option ${name} needs a value (${name}=${valued.rule})` };
      if (val !== undefined && !valued.re.test(val)) return { problem: `option ${text}: the value must be ${valued.rule}` };
    } else if (FLAGS.has(name)) {
      if (val !== undefined) return { problem: `option ${name} takes no value` };
    } else return { problem: `has the unknown option "${name}" (exportfs refuses it: "unknown keyword"); must be ${EXPORT_OPTIONS_RULE}` };
    const s = slot(key);
    const before = seen.get(s);
    if (before !== undefined) return { problem: before === text ? `lists ${text} twice` : `lists both ${before} and ${text}` };
    seen.set(s, text);
    options.push({ key, text, ...(val !== undefined ? { value: val } : {}) });
  }
  return { options };
}

/**
 * The rule of an option list in one place of the inventory: `site` options apply to every export,
 * so they may not carry fsid (two exports would claim one id); an image's `exportOptions` may carry
 * a numeric or UUID fsid but not fsid=0/root, which belongs to site.exports.pseudoRoot only.
 */
export function exportOptionsProblem(value: string, where: 'site' | 'image'): string | undefined {
  const r = parseExportOptions(value);
  if ('problem' in r) return r.problem;
  const fsid = r.options.find((o) => o.key === 'fsid');
  if (fsid && where === 'site') return `may not hold ${fsid.text}: an fsid identifies one export, and site options apply to every export (set it in an image's exportOptions)`;
  if (fsid && isRootFsid(fsid.value)) return `may not hold ${fsid.text}: only the NFSv4 pseudo-root has fsid=0 (set site.exports.pseudoRoot)`;
  return undefined;
}

function isRootFsid(value: string | undefined): boolean {
  return value === 'root' || (value !== undefined && /^\d+$/.test(value) && Number(value) === 0);
}

/**
 * The options of one export: the site's, then the image's (an image's option replaces the site's
 * of the same kind: rw replaces ro, fsid=7 any fsid), then `insecure` when the site asks for it and
 * nothing said otherwise. Returns the exports(5) option text.
 */
export function mergeExportOptions(site: string, image: string | undefined, insecure: boolean): string {
  const out = new Map<string, string>();
  for (const list of [site, image ?? '']) {
    const r = parseExportOptions(list);
    if ('problem' in r) continue; // the schema refused it already
    for (const o of r.options) {
      const s = slot(o.key);
      out.delete(s); // keep the order of the latest writer
      out.set(s, o.text);
    }
  }
  if (insecure && !out.has(slot('insecure'))) out.set(slot('insecure'), 'insecure');
  return [...out.values()].join(',');
}

/** The fsid value of an option list, or undefined. */
export function fsidOf(options: string | undefined): string | undefined {
  if (!options) return undefined;
  const r = parseExportOptions(options);
  return 'problem' in r ? undefined : r.options.find((o) => o.key === 'fsid')?.value;
}

/** Is `path` the directory `dir` or inside it? */
export function pathWithin(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return d === '' || path === d || path.startsWith(`${d}/`);
}

/**
 * The path an NFS client names for the server-side directory `serverPath`: itself for NFSv3 and
 * for NFSv4 without a pseudo-root; relative to the pseudo-root (as "/" + the rest) for NFSv4 when
 * `pseudoRoot` is set (exports(5): with fsid=0, NFSv4 paths are relative to that export).
 */
export function nfsClientPath(serverPath: string, version: 3 | 4, pseudoRoot: string | undefined): string {
  if (version !== 4 || pseudoRoot === undefined || !pathWithin(serverPath, pseudoRoot)) return serverPath;
  const rel = serverPath.slice(pseudoRoot.replace(/\/+$/, '').length);
  return rel === '' ? '/' : rel;
}

/** Does the IPv4 `address` fall inside the allow entry `entry`? undefined when the entry is a name, pattern or netgroup. */
export function allowCovers(entry: string, address: string): boolean | undefined {
  if (entry === '*') return true;
  if (isIPv4(entry)) return entry === address;
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(entry);
  if (m && isIPv4(m[1] as string)) {
    const mask = prefixMask(Number(m[2]));
    return ((ipv4Number(address) & mask) >>> 0) === ((ipv4Number(m[1] as string) & mask) >>> 0);
  }
  return undefined;
}

/** Directories never exported, nor anything inside them: the system's own files. */
const SYSTEM_TREES = ['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/boot', '/proc', '/sys', '/dev', '/run'];
/**
 * Directories never exported themselves (a directory below them may hold an image: /srv/xenroot/x,
 * /var/lib/xenroot/images/x, /root/xenroot/.cache/images/x for an admin who works in root's home).
 */
const SYSTEM_DIRS = ['/', '/var', '/var/lib', '/var/cache', '/var/log', '/var/spool', '/var/tmp', '/var/mail', '/home', '/root', '/srv', '/tmp', '/opt', '/mnt', '/media'];
/**
 * A home directory's own hidden entries (`/root/.ssh`, `/home/ann/.gnupg`): keys and settings,
 * never an image. Deeper hidden directories (`/root/xenroot/.cache/images`) are a project's own.
 */
const HOME_HIDDEN = /^(?:\/root|\/home\/[^/]+)\/\.[^/]*(?:\/|$)/;


/** The directories of xenroot's own whose contents an export must never hold or lie inside. */
export interface GuardedDirs {
  /** xenroot's state directory (host keys, caches): it and its own subdirectories. */
  state: string;
  /** Subdirectories of the state directory xenroot writes (another subdirectory may hold an image). */
  stateSubdirs: readonly string[];
  bootDir: string;
  tftpRoot: string;
}

/**
 * Why the server-side directory `path` may not be exported, judged after normalising it (repeated
 * slashes, `.` segments, trailing slash), or undefined: the root, a system directory or anything
 * inside /etc, /usr, /boot, /proc, ...; a home directory or a home's own hidden entries (/root/.ssh); a path that holds xenroot's state directory or lies inside
 * what xenroot keeps there (host keys, caches); a path that holds or lies inside the boot or TFTP
 * directories.
 */
export function exportPathProblem(path: string, guarded: GuardedDirs): string | undefined {
  if (path.split('/').includes('..')) return 'has a ".." segment: give the directory itself';
  const p = normalised(path);
  if (p === '/') return 'is the root directory: exporting it gives every client the whole server';
  const tree = SYSTEM_TREES.find((d) => pathWithin(p, d));
  if (tree) return `lies inside the system directory ${tree}: export a directory of its own (under /srv, for example)`;
  if (SYSTEM_DIRS.includes(p)) return `is the system directory ${p}: export a directory of its own below it`;
  if (/^\/home\/[^/]+$/.test(p)) return `is the home directory ${p}: export a directory of its own below it`;
  const hidden = HOME_HIDDEN.exec(p);
  if (hidden) return `lies inside ${hidden[0].replace(/\/$/, '')}, a home directory's own settings and keys: export a directory of its own (under /srv, for example)`;
  const state = normalised(guarded.state);
  if (pathWithin(state, p)) return `holds xenroot's state directory ${state} (every node's host keys)`;
  const sub = guarded.stateSubdirs.map((d) => `${state}/${d}`).find((d) => pathWithin(p, d) || pathWithin(d, p));
  if (sub) return `lies inside xenroot's state (${sub})`;
  for (const [what, dir] of [['boot directory', guarded.bootDir], ['TFTP directory', guarded.tftpRoot]] as const) {
    const d = normalised(dir);
    if (pathWithin(p, d) || pathWithin(d, p)) return `${pathWithin(p, d) ? 'lies inside' : 'holds'} xenroot's ${what} ${d}`;
  }
  return undefined;
}

/** The options of an exports(5) list as a set of keys ("ro", "no_root_squash", ...); empty for a list the schema refuses. */
function optionKeys(text: string): Set<string> {
  const r = parseExportOptions(text);
  return new Set('problem' in r ? [] : r.options.map((o) => ALIASES[o.key] ?? o.key));
}

/**
 * Warnings about the merged options of each image's export that are allowed but dangerous:
 * rw with no_root_squash lets root on any allowed client change the image every node boots.
 */
export function exportWarnings(inv: ExportsModel): string[] {
  const out: string[] = [];
  for (const [name, image] of Object.entries(inv.images)) {
    const keys = optionKeys(mergeExportOptions(inv.site.exports.options, image.exportOptions, inv.site.exports.insecure));
    if (keys.has('rw') && keys.has('no_root_squash')) out.push(`image ${name} is exported rw with no_root_squash: root on any allowed client can change the image every node boots`);
  }
  return out;
}

/** What the export rules read of the inventory (structural: the schema's types need not be imported here). */
interface ExportsModel {
  site: { nfsServer: string; exportRoot: string; nfsVersion: 3 | 4; allow: string[]; bootDir: string; tftpRoot: string; exports: { pseudoRoot?: string | undefined; options: string; insecure: boolean } };
  images: Record<string, { root?: string | undefined; file?: string | undefined; export?: string | undefined; nfsVersion?: 3 | 4 | undefined; exportOptions?: string | undefined }>;
  clients: Record<string, { root?: string | undefined }>;
}

/** The NFS path of an image (as inventory/paths.ts exportPath: export, else root, else EXPORTROOT/IMAGE). */
function imageExportPath(site: ExportsModel['site'], name: string, image: ExportsModel['images'][string]): string {
  return image.export ?? image.root ?? `${site.exportRoot.replace(/\/+$/, '')}/${name}`;
}

/**
 * The rules between exports and what mounts them (part of the schema's rules between entries):
 * one fsid per export, images sharing an export path agree on its options, every NFSv4 export
 * lies inside site.exports.pseudoRoot when there is one, and a client whose `root:` names this
 * site's NFS server names a path this inventory exports.
 */
export function exportIssues(inv: ExportsModel, guarded: Pick<GuardedDirs, 'state' | 'stateSubdirs'>): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const site = inv.site;
  const pseudo = site.exports.pseudoRoot;
  const dirs: GuardedDirs = { ...guarded, bootDir: site.bootDir, tftpRoot: site.tftpRoot };
  if (pseudo !== undefined) {
    const bad = exportPathProblem(pseudo, dirs);
    if (bad) issues.push({ path: ['site', 'exports', 'pseudoRoot'], message: `${pseudo} ${bad}` });
  }
  const byPath = new Map<string, { name: string; options: string }>();
  const byFsid = new Map<string, { name: string; path: string }>();
  const paths: string[] = [];
  for (const [name, image] of Object.entries(inv.images)) {
    const path = imageExportPath(site, name, image);
    paths.push(path);
    const bad = exportPathProblem(path, dirs);
    if (bad) issues.push({ path: ['images', name, image.export !== undefined ? 'export' : image.root !== undefined ? 'root' : 'export'], message: `exports ${path}, which ${bad}` });
    const keys = optionKeys(mergeExportOptions(site.exports.options, image.exportOptions, site.exports.insecure));
    if (keys.has('insecure') && keys.has('no_root_squash'))
      issues.push({ path: ['images', name, 'exportOptions'], message: 'is exported insecure with no_root_squash: any user on an allowed host could act as root over NFS from an unprivileged port (drop insecure, or use root_squash)' });
    const options = image.exportOptions ?? '';
    const same = byPath.get(path);
    if (same && same.options !== options)
      issues.push({ path: ['images', name, 'exportOptions'], message: `image ${same.name} exports the same path ${path} with other options ("${same.options}"): one path is one export line; give both the same exportOptions` });
    else if (!same) byPath.set(path, { name, options });
    const fsid = fsidOf(options);
    if (fsid !== undefined) {
      const key = /^\d+$/.test(fsid) ? String(Number(fsid)) : fsid.toLowerCase().replace(/-/g, '');
      const other = byFsid.get(key);
      if (other && other.path !== path) issues.push({ path: ['images', name, 'exportOptions'], message: `fsid=${fsid} is already the fsid of image ${other.name} (${other.path}): each export needs its own fsid` });
      else if (!other) byFsid.set(key, { name, path });
    }
    if (pseudo !== undefined && (image.nfsVersion ?? site.nfsVersion) === 4) {
      if (!pathWithin(path, pseudo))
        issues.push({ path: ['images', name], message: `exports ${path}, outside site.exports.pseudoRoot ${pseudo}: NFSv4 clients see only what lies inside the pseudo-root (move the export inside it, or drop pseudoRoot)` });
      else if (path.replace(/\/+$/, '') === pseudo.replace(/\/+$/, ''))
        issues.push({ path: ['images', name], message: `exports the pseudo-root ${pseudo} itself: export a directory inside it` });
    }
  }
  for (const [name, client] of Object.entries(inv.clients)) {
    if (!client.root) continue;
    const m = /^([^:/]+):(\/.*)$/.exec(client.root);
    if (!m || m[1] !== site.nfsServer) continue;
    const path = m[2] as string;
    if (!paths.some((p) => pathWithin(path, p)))
      issues.push({ path: ['clients', name, 'root'], message: `mounts ${path} from this site's NFS server ${site.nfsServer}, which exports no such path (exported: ${paths.join(', ') || 'none'})` });
  }
  return issues;
}
