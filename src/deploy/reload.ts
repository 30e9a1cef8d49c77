/**
 * Service reload hooks after a sync: `exportfs -r` when the exports changed, a restart of the DHCP
 * server when its reservations changed (dnsmasq, ISC dhcpd, Kea). A failed reload is reported, never thrown: the files are
 * already correct on disk and the next reload picks them up.
 */
import { execa } from 'execa';
import type { Site } from '../inventory/schema.js';
import { which } from '../sys/which.js';
import type { FileGroup } from './plan.js';

export interface ReloadResult {
  what: FileGroup;
  command: string;
  outcome: 'ok' | 'failed' | 'skipped';
  message?: string;
}

async function run(what: FileGroup, tool: string, args: string[], pkg: string): Promise<ReloadResult> {
  const command = [tool, ...args].join(' ');
  const path = which(tool);
  if (!path) return { what, command, outcome: 'skipped', message: `${tool} not found (package ${pkg})` };
  const r = await execa(path, args, { reject: false, all: true, timeout: 60_000 });
  if (r.exitCode === 0) return { what, command, outcome: 'ok' };
  const out = (r.all ?? '').trim().split('\n').slice(-3).join(' / ');
  return { what, command, outcome: 'failed', message: `exit ${r.exitCode ?? r.signal ?? '?'}${out ? `: ${out}` : ''}` };
}

/** Runs the hooks of the groups whose files changed. */
export async function reloadServices(changed: Set<FileGroup>, site: Site): Promise<ReloadResult[]> {
  const results: ReloadResult[] = [];
  if (changed.has('exports')) results.push(await run('exports', 'exportfs', ['-r'], 'nfs-kernel-server'));
  if (changed.has('dhcp') && site.dhcp.server === 'dnsmasq') results.push(await run('dhcp', 'systemctl', ['try-restart', 'dnsmasq.service'], 'systemd'));
  if (changed.has('dhcp') && site.dhcp.server === 'isc') results.push(await run('dhcp', 'systemctl', ['try-restart', 'isc-dhcp-server.service'], 'systemd'));
  // Debian's kea-dhcp4-server.service has no ExecReload: try-reload-or-restart restarts it (leases are kept in its memfile).
  if (changed.has('dhcp') && site.dhcp.server === 'kea') results.push(await run('dhcp', 'systemctl', ['try-reload-or-restart', 'kea-dhcp4-server.service'], 'systemd'));
  return results;
}
