/** `xenroot init`: a new inventory with the site settings (values checked by the site schema's own fields). */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { UsageError } from '../sys/errors.js';
import { initialInventoryText, type InitOptions } from '../inventory/init.js';
import { FIELDS, flagValue } from '../inventory/schema.js';
import { createInventory, type Inventory } from './steps/store.js';

/** The first non-internal IPv4 address of this host: the usual NFS server of a small site. */
export function defaultNfsServer(): string | undefined {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

/**
 * The id of group `name` (a name in /etc/group, or a number). UsageError naming the group when
 * there is no such group.
 */
function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [n, , gid] = line.split(':');
    if (n === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(`--group ${JSON.stringify(name)}: no such group in /etc/group`, { hint: 'give an existing group name or a numeric group id' });
}

/**
 * `xenroot init`: writes a new inventory at `file` (mode 0600, or 0640 for `opts.group`). Errors:
 * UsageError for an address or group that cannot be guessed or found, InventoryError for a bad
 * value or an existing file.
 */
export async function initInventory(file: string, opts: InitOptions): Promise<Inventory> {
  const f = FIELDS.site;
  const nfsServer = opts.nfsServer ?? defaultNfsServer();
  if (!nfsServer) throw new UsageError('cannot guess the NFS server address: this host has no IPv4 address', { hint: 'give it with --nfs-server ADDR' });
  flagValue(f.nfsServer, '--nfs-server', nfsServer);
  if (opts.exportRoot !== undefined) flagValue(f.exportRoot, '--export-root', opts.exportRoot);
  if (opts.tftpRoot !== undefined) flagValue(f.tftpRoot, '--tftp-root', opts.tftpRoot);
  if (opts.bootDir !== undefined) flagValue(f.bootDir, '--boot-dir', opts.bootDir);
  if (opts.bridge !== undefined) flagValue(f.bridge, '--bridge', opts.bridge);
  if (opts.connect !== undefined) flagValue(f.connect, '--connect', opts.connect);
  let allow = opts.allow;
  if (!allow || allow.length === 0) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(nfsServer);
    if (!m) throw new UsageError('cannot derive the client network from a host name', { hint: 'give it with --allow CIDR' });
    allow = [`${m[1]}.${m[2]}.${m[3]}.0/24`];
  }
  for (const a of allow) flagValue(f.allow.unwrap().element, '--allow', a);
  const gid = opts.group === undefined ? undefined : groupId(opts.group);
  return createInventory(file, initialInventoryText({ ...opts, nfsServer, allow }), gid);
}
