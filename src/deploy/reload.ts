/**
 * Service reload hooks after a sync: `exportfs -r` when the exports changed, a restart of the DHCP
 * server when its reservations changed. A failed reload is reported, never thrown: the files are
 * already correct on disk and the next reload picks them up.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import type { Site } from '../inventory/schema.js';
import type { FileGroup } from './plan.js';

export interface ReloadResult {
  what: FileGroup;
  command: string;
  outcome: 'ok' | 'failed' | 'skipped';
  message?: string;
}

/** The full path of `tool` on $PATH, or undefined. */
export async function which(tool: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, tool);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return undefined;
}

async function run(what: FileGroup, tool: string, args: string[], pkg: string): Promise<ReloadResult> {
  const command = [tool, ...args].join(' ');
  const path = await which(tool);
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
  return results;
}
