/** `xenroot host add|list|show|remove|trust`: the hypervisor hosts of the inventory. */
import { addHostEntry, guestsOnHost, removeHostEntry, type HostEntryOptions } from '../inventory/hosts.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Host } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';
import { ALLOW_UNVERIFIED_ENV, checkHostKeyPolicy, isSshUri, recordHostKey, sshTarget, type RecordedKeys } from '../hypervisor/ssh.js';
import { UsageError } from '../sys/errors.js';

/**
 * Adds a hypervisor host. Its URI's shape is the schema's rule (InventoryError); a URI that skips
 * the check of the host's key (`no_verify=1`, `known_hosts_verify=ignore`, `command=`) is refused
 * with a UsageError unless `allowUnverifiedHostKey` (the admin's explicit flag).
 */
export async function addHost(inventoryFile: string, opts: HostEntryOptions & { allowUnverifiedHostKey?: boolean }): Promise<{ name: string; host: Host }> {
  checkHostKeyPolicy(opts.connect, opts.allowUnverifiedHostKey);
  return updateInventory(inventoryFile, (inv) => ({ name: opts.name, host: addHostEntry(inv, opts) }));
}

export interface HostRow {
  name: string;
  host: Host;
  guests: string[];
}

/**
 * Lets this process connect through URIs that skip the host's key check (the CLI's global
 * --allow-unverified-host-key: the admin's explicit word). Sets $XENROOT_ALLOW_UNVERIFIED_HOST_KEY,
 * which the one connection path (hypervisor/ssh.ts: transportUri) reads.
 */
export function allowUnverifiedHostKeys(): void {
  process.env[ALLOW_UNVERIFIED_ENV] = '1';
}

export async function listHosts(inventoryFile: string): Promise<HostRow[]> {
  const inv = await loadInventory(inventoryFile);
  return Object.entries(inv.data.hosts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, host]) => ({ name, host, guests: guestsOnHost(inv, name) }));
}

export async function showHost(inventoryFile: string, name: string): Promise<HostRow> {
  const inv = await loadInventory(inventoryFile);
  return { name, host: requireEntry(inv.data, 'host', name), guests: guestsOnHost(inv, name) };
}

export async function removeHost(inventoryFile: string, name: string): Promise<{ name: string; host: Host }> {
  return updateInventory(inventoryFile, (inv) => ({ name, host: removeHostEntry(inv, name) }));
}

export interface TrustResult extends RecordedKeys {
  name: string;
}

/**
 * Records the ssh host key of an xen+ssh:// host in xenroot's known_hosts (hypervisor/ssh.ts:
 * recordHostKey): the key given in `keyFile`, else what the host shows now (trust on first use).
 * UsageError for a host not reached over ssh; the errors of recordHostKey.
 */
export async function trustHost(inventoryFile: string, name: string, opts: { keyFile?: string; replace?: boolean } = {}): Promise<TrustResult> {
  const host = requireEntry((await loadInventory(inventoryFile)).data, 'host', name);
  const t = isSshUri(host.connect) ? sshTarget(host.connect) : undefined;
  if (!t) throw new UsageError(`host ${name} is not reached over ssh (${host.connect}): nothing to trust`);
  return { name, ...(await recordHostKey(t, { ...opts, hostLabel: name })) };
}
