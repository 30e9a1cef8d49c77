/** `xenroot init`: a new inventory with the site settings (values checked by the site schema's own fields). */
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
  return createInventory(file, initialInventoryText({ ...opts, nfsServer, allow }));
}
