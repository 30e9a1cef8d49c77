/** `xenroot host add|list|show|remove|trust`: the hypervisor hosts of the inventory (issue 15). */
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { addHostEntry, guestsOnHost, removeHostEntry, type HostEntryOptions } from '../inventory/hosts.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Host } from '../inventory/schema.js';
import { loadInventory, updateInventory } from '../inventory/store.js';
import { ALLOW_UNVERIFIED_ENV, checkHostKeyPolicy, ensureSshFiles, isSshUri, knownHostsName, sshTarget } from '../hypervisor/ssh.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { DependencyError, HypervisorError, UsageError } from '../sys/errors.js';

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

export interface TrustResult {
  name: string;
  /** The known_hosts name: host or [host]:port. */
  known: string;
  file: string;
  /** Lines added (empty: the key was known already). */
  added: string[];
  /** `ssh-keygen -lf` fingerprints of the recorded keys. */
  fingerprints: string[];
}

/**
 * Records the ssh host key of an xen+ssh:// host in xenroot's known_hosts: the key given in
 * `keyFile` (a host's `ssh_host_*_key.pub`, got by a channel you trust), else whatever the host
 * shows now (`ssh-keyscan`: trust on first use; compare the printed fingerprint).
 */
export async function trustHost(inventoryFile: string, name: string, opts: { keyFile?: string; replace?: boolean } = {}): Promise<TrustResult> {
  const host = requireEntry((await loadInventory(inventoryFile)).data, 'host', name);
  const t = isSshUri(host.connect) ? sshTarget(host.connect) : undefined;
  if (!t) throw new UsageError(`host ${name} is not reached over ssh (${host.connect}): nothing to trust`);
  const f = ensureSshFiles();
  const known = knownHostsName(t.host, t.port);
  let keys: string[];
  if (opts.keyFile) {
    keys = (await readFile(opts.keyFile, 'utf8'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '))
      .filter((l) => /^(ssh-|ecdsa-)\S+ \S+$/.test(l));
    if (!keys.length) throw new UsageError(`${opts.keyFile} holds no ssh public key (TYPE BASE64 [comment])`);
  } else {
    const r = await execa('ssh-keyscan', ['-T', '8', '-p', String(t.port), '--', t.host], { reject: false, stdin: 'ignore' }).catch((err: unknown) => {
      throw new DependencyError(`cannot run ssh-keyscan: ${(err as Error).message}`, { hint: 'install openssh-client' });
    });
    keys = r.stdout
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s+/).slice(1, 3).join(' '));
    if (!keys.length) throw new HypervisorError(`no ssh server answered at ${known}: ${r.stderr.trim().split('\n').pop() ?? ''}`, { hint: 'is sshd running there, and the port in the URI right?' });
  }
  const current = await readFile(f.knownHosts, 'utf8').catch(() => '');
  let lines = current.split('\n').filter(Boolean);
  const mine = (l: string) => l.split(/\s+/)[0] === known;
  const old = lines.filter((l) => mine(l) && !keys.includes(l.split(/\s+/).slice(1, 3).join(' ')));
  if (old.length && !opts.replace) {
    throw new HypervisorError(`the ssh host key of ${known} differs from the one recorded in ${f.knownHosts}`, {
      hint: `if the host was reinstalled, run \`xenroot host trust ${name} --replace\`; otherwise someone may be in the middle`,
    });
  }
  if (opts.replace) lines = lines.filter((l) => !old.includes(l));
  const added = keys.map((k) => `${known} ${k}`).filter((l) => !lines.includes(l));
  if (added.length || old.length) await writeFileAtomic(f.knownHosts, [...lines, ...added].join('\n') + '\n', { mode: 0o600 });
  const fp = await execa('ssh-keygen', ['-lf', '-'], { input: keys.map((k) => `${known} ${k}`).join('\n') + '\n', reject: false });
  return { name, known, file: f.knownHosts, added, fingerprints: fp.stdout.split('\n').filter(Boolean) };
}
