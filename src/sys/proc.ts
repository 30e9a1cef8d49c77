/**
 * Readers of /proc and the one way xenroot stops a process it knows only by PID (a daemon's QEMU,
 * rpcbind in a namespace). Processes xenroot spawns itself are ended through execa
 * (`cancelSignal` + `forceKillAfterDelay`); these helpers are for everything else.
 * Field numbers follow proc(5).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { log } from './log.js';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The command name (proc(5) field 2, without the parentheses). */
  comm: string;
  /** proc(5) field 3: R, S, D, Z, ... */
  state: string;
  /** Start time in clock ticks since boot (field 22): with the PID it names one process for good. */
  start: string;
}

/** Parses the text of /proc/PID/stat; undefined when it is not one. Pure. */
export function parseStat(pid: number, text: string): ProcessInfo | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '', ppid: Number(rest[1]), start: rest[19] ?? '' };
}

/** /proc/PID/stat of one process, or undefined when it does not exist. */
export function processInfo(pid: number): ProcessInfo | undefined {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && info.state !== 'Z';
}

/** The start time of a process (see ProcessInfo.start), to tell a reused PID apart. */
export function processStart(pid: number): string | undefined {
  return processInfo(pid)?.start;
}

/** Every process of this PID namespace. */
export function listProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = processInfo(Number(name));
    if (info) out.push(info);
  }
  return out;
}

/** The descendants of `pid` (children, their children, ...), optionally only those named `comm`. */
export function descendants(pid: number, comm?: string, procs: ProcessInfo[] = listProcesses()): number[] {
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return procs.filter((p) => p.pid !== pid && tree.has(p.pid) && (comm === undefined || p.comm === comm)).map((p) => p.pid);
}

/** PIDs of the processes whose root directory is `root` or below it (still running in a chroot). */
export function processesRootedIn(root: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let r = '';
    try {
      r = readlinkSync(`/proc/${name}/root`);
    } catch {
      continue;
    }
    if (r === root || r.startsWith(`${root}/`)) out.push(Number(name));
  }
  return out;
}

/**
 * True when process `pid` itself holds a listening TCP socket on `port` (so it is not someone
 * else's server that answers). Reads /proc/PID/fd and /proc/PID/net/tcp{,6}, which show the
 * process's own network namespace.
 */
export function pidListensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let link = '';
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1]) inodes.add(m[1]);
    }
  } catch {
    return false;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`) && f[9] && inodes.has(f[9])) return true;
    }
  }
  return false;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await sleep(50);
  }
  return !pidAlive(pid);
}

/**
 * Stops a process by PID: SIGTERM, then SIGKILL after `graceMs` (default 5 s). Resolves once it
 * is gone (or 2 s after the SIGKILL). A PID that does not exist is not an error.
 */
export async function killPid(pid: number, opts: { graceMs?: number; what?: string } = {}): Promise<void> {
  if (!pidAlive(pid) || !signal(pid, 'SIGTERM')) return;
  if (await waitGone(pid, opts.graceMs ?? 5_000)) return;
  log().warn({ pid }, `${opts.what ?? 'process'} did not exit on SIGTERM; sending SIGKILL`);
  if (!signal(pid, 'SIGKILL')) return;
  await waitGone(pid, 2_000);
}

/** SIGKILL now, without waiting (for exit handlers, which cannot wait). */
export function killPidNow(pid: number): void {
  if (pidAlive(pid)) signal(pid, 'SIGKILL');
}
