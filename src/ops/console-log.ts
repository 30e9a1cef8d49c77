/**
 * `xenroot console NAME --log-tail [N] [--since WHEN]`: a guest's console log as its host keeps it
 *, read through the libvirt connection (src/hypervisor/console-log.ts). Each start by
 * xenroot records the log's size first, so `--since start` shows the output of the latest boot.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConsoleLogReader } from '../hypervisor/console-log.js';
import { consoleLogPath } from '../hypervisor/console-log.js';
import { stateDir } from '../inventory/paths.js';
import type { InventoryData } from '../inventory/schema.js';
import { HypervisorCallError } from '../hypervisor/errors.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { UsageError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { guestTarget, resolveGuest, usingHypervisor, type HostOptions } from './steps/guest-host.js';
import { mkdir } from 'node:fs/promises';

/** The record of a guest's latest start, in the state directory of its inventory. */
function startFile(inv: { path: string; data: InventoryData }, host: string, guest: string): string {
  return join(stateDir(inv.path, inv.data.site), 'consoles', host, `${guest}.start.json`);
}

/** Records the console log's size before a start (the start of `--since start`); never fails the start. */
export async function recordConsoleStart(inv: { path: string; data: InventoryData }, reader: ConsoleLogReader, host: string, guest: string): Promise<void> {
  try {
    const size = (await reader.size(guest)) ?? 0;
    const file = startFile(inv, host, guest);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFileAtomic(file, JSON.stringify({ offset: size, at: new Date().toISOString() }) + '\n');
  } catch (err) {
    log().warn({ guest, host, err: (err as Error).message }, 'cannot reach the console log on the host (is xenconsoled logging? docs/hosts.md)');
  }
}

/** `--since`: `start` (the latest start by xenroot), or a time: ISO date/time, or `N[smhd]` ago. Pure but for `now`. */
export function parseSince(value: string, now = Date.now()): 'start' | Date {
  if (value === 'start') return 'start';
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[rel[2] as 's' | 'm' | 'h' | 'd'] * 1000);
  const t = Date.parse(value.includes('T') || value.includes(' ') ? value : `${value}T00:00`);
  if (Number.isNaN(t)) throw new UsageError(`--since "${value}" is not valid: must be start, a time such as 2026-11-29T20:00 or 10m, 2h, 1d ago`);
  return new Date(t);
}

/**
 * Lines of a log from `since` on: a line with xenconsoled's timestamp (`[YYYY-MM-DD HH:MM:SS] `,
 * with --timestamp=guest) counts by its time, a line without one goes with the line before it.
 * A log without timestamps at all cannot be cut by time: UsageError. Pure.
 */
export function linesSince(text: string, since: Date): string[] {
  const out: string[] = [];
  let keep = false;
  let stamped = false;
  for (const line of text.split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\] ?/.exec(line);
    if (m) {
      stamped = true;
      keep = Date.parse(`${m[1]}T${m[2]}Z`) >= since.getTime();
    }
    if (keep) out.push(line);
  }
  if (!stamped && text.trim()) throw new UsageError('this console log has no timestamps: --since takes only `start` here', { hint: 'xenconsoled writes them with --timestamp=guest (docs/hosts.md)' });
  return out;
}

export interface ConsoleLogOptions extends HostOptions {
  /** The last N lines (default 50). */
  tail?: number;
  since?: 'start' | Date;
}

export interface ConsoleLogResult {
  name: string;
  host: string | undefined;
  /** The log's path on the host. */
  path: string;
  size: number;
  lines: string[];
}

/** The tail of a guest's console log on its host. */
export async function readConsoleLog(inventoryFile: string, name: string, opts: ConsoleLogOptions = {}): Promise<ConsoleLogResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return usingHypervisor(r.uri, opts, async (h) => {
    const target = guestTarget(h, opts);
    if (!h.consoleLog) {
      throw new HypervisorCallError(`${h.uri} keeps no console logs xenroot can read remotely`, 'unsupported', h.uri, {
        hint: `on the host: ${consoleLogPath('xen', name).path} (xenconsoled --log=guest)`,
      });
    }
    const reader = h.consoleLog(target);
    let from: number | undefined;
    if (opts.since === 'start') {
      if (!r.host) throw new UsageError(`--since start needs a guest on an inventory host; ${name} is at ${r.uri}`);
      const rec = await readFile(startFile(r.inv, r.host.name, name), 'utf8').then((t) => JSON.parse(t) as { offset: number }, () => undefined);
      from = rec?.offset ?? 0;
    }
    const chunk = await reader.read(name, from !== undefined ? { from } : { maxBytes: 1024 * 1024 });
    let lines = chunk.text.replace(/\r/g, '').split('\n');
    if (opts.since instanceof Date) lines = linesSince(lines.join('\n'), opts.since);
    // A read from the middle of the file starts mid-line: drop that partial line.
    if (from === undefined && chunk.offset > 0) lines = lines.slice(1);
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    if (opts.tail !== undefined || opts.since === undefined) lines = lines.slice(-(opts.tail ?? 50));
    return { name, host: r.host?.name, path: consoleLogPath(target, name).path, size: chunk.size, lines };
  });
}
