/**
 * What the boot server's own configuration says, read (never changed): the kernel NFS server's
 * table of active exports, and whether the DHCP server's main configuration reads xenroot's file.
 * Paths are the system's own unless `root` (a directory standing for /, as `sync --root` writes)
 * is given.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** /var/lib/nfs/etab: the table `exportfs` keeps of what the kernel NFS server exports now. */
export const NFS_ETAB = '/var/lib/nfs/etab';

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The paths the kernel NFS server exports now (first field of each etab line, the form
 * `exportfs -s` prints), or undefined when the table does not exist (no kernel NFS server here).
 */
export async function activeExports(root = '/'): Promise<string[] | undefined> {
  const text = await readOrUndefined(join(root, NFS_ETAB));
  if (text === undefined) return undefined;
  return [...new Set(text.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!.replace(/\\040/g, ' ')))];
}

/** Lines of a config without comments and blanks, trimmed. */
function activeLines(text: string, comment: RegExp): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(comment, '').trim())
    .filter(Boolean);
}

/** Whether a dnsmasq conf-dir value (DIR[,EXCL...] or DIR/,*.conf) reads `file`. */
function confDirReads(value: string, file: string): boolean {
  const [dir, ...rest] = value.split(',').map((s) => s.trim());
  if (!dir || dirname(file) !== dir.replace(/\/+$/, '')) return false;
  const wanted = rest.filter((r) => r.startsWith('*'));
  if (wanted.length) return wanted.some((w) => file.endsWith(w.slice(1)));
  // Without *.suffix patterns, every file is read but those ending in an excluded suffix or ~.
  return !rest.some((ex) => ex && file.endsWith(ex)) && !file.endsWith('~');
}

export interface IncludeFinding {
  /** The main configuration files read. */
  config: string[];
  /** true when one of them reads `file`; `how` quotes the line that does. */
  included: boolean;
  how?: string;
}

/**
 * Whether dnsmasq reads `file`: a `conf-file=FILE` or `conf-dir=DIR` line of /etc/dnsmasq.conf, or
 * Debian's CONFIG_DIR in /etc/default/dnsmasq (its init script passes `-7 CONFIG_DIR`).
 */
export async function dnsmasqReads(file: string, root = '/'): Promise<IncludeFinding> {
  const conf = '/etc/dnsmasq.conf';
  const defaults = '/etc/default/dnsmasq';
  for (const line of activeLines((await readOrUndefined(join(root, conf))) ?? '', /#.*$/)) {
    const m = /^(conf-file|conf-dir)\s*=\s*(.+)$/.exec(line);
    if (m && (m[1] === 'conf-file' ? m[2]!.trim() === file : confDirReads(m[2]!, file))) return { config: [conf, defaults], included: true, how: `${conf}: ${line}` };
  }
  for (const line of activeLines((await readOrUndefined(join(root, defaults))) ?? '', /#.*$/)) {
    const m = /^CONFIG_DIR\s*=\s*["']?([^"']+)["']?$/.exec(line);
    if (m && confDirReads(m[1]!, file)) return { config: [conf, defaults], included: true, how: `${defaults}: ${line}` };
  }
  return { config: [conf, defaults], included: false };
}

/** Whether ISC dhcpd reads `file`: it is /etc/dhcp/dhcpd.conf itself, or that file has `include "FILE";`. */
export async function iscDhcpdReads(file: string, root = '/'): Promise<IncludeFinding> {
  const conf = '/etc/dhcp/dhcpd.conf';
  if (file === conf) return { config: [conf], included: true, how: `${conf} is xenroot's file (a managed block)` };
  for (const line of activeLines((await readOrUndefined(join(root, conf))) ?? '', /#.*$/)) {
    const m = /^include\s+"([^"]+)"\s*;/.exec(line);
    if (m && m[1] === file) return { config: [conf], included: true, how: `${conf}: ${line}` };
  }
  return { config: [conf], included: false };
}
