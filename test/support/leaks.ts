/**
 * Leak checks for tests: mounts, loop devices, daemon processes (qemu, ganesha, libvirtd,
 * virtlogd, rpcbind) and network namespaces. Test files run in parallel, so a check is scoped:
 * take a snapshot before, then ask what is new since it, optionally only under given paths.
 */
import { readdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { listMounts } from '../../src/image/mounts.js';
import { listLoops } from '../../src/image/loop.js';

export const DAEMON_NAMES = /^(qemu-system|ganesha\.nfsd|libvirtd|virtlogd|rpcbind|virtqemud)/;

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
}

export interface LeakSnapshot {
  mounts: string[];
  loops: string[];
  processes: ProcessInfo[];
  netns: string[];
}

export interface LeakScope {
  /** Only mounts at or below these paths, and loop devices backed by files below them, count. */
  paths?: string[];
  /** Count every new daemon on the machine, not only this process's descendants (default false). */
  allProcesses?: boolean;
}

export interface Leaks {
  mounts: string[];
  loops: string[];
  processes: ProcessInfo[];
  netns: string[];
}

export async function listProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, comm });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export async function listDaemons(): Promise<ProcessInfo[]> {
  return (await listProcesses()).filter((p) => DAEMON_NAMES.test(p.comm));
}

export async function listNetns(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return String(r.stdout)
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

export async function snapshot(): Promise<LeakSnapshot> {
  const [mounts, loops, processes, netns] = await Promise.all([listMounts(), listLoops(), listDaemons(), listNetns()]);
  return {
    mounts: mounts.map((m) => `${m.mountPoint} ${m.fsType} ${m.source}`),
    loops: loops.map((l) => `${l.name} ${l.backingFile}`),
    processes,
    netns,
  };
}

const under = (p: string, paths: string[] | undefined): boolean =>
  !paths || paths.some((root) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`));

/** What exists now that did not in `before` (mounts and loops limited to `scope.paths` when given). */
export async function leaksSince(before: LeakSnapshot, scope: LeakScope = {}): Promise<Leaks> {
  const now = await snapshot();
  const pids = new Set(before.processes.map((p) => p.pid));
  const own = scope.allProcesses ? undefined : new Set((await ownDaemons()).map((p) => p.pid));
  return {
    mounts: now.mounts.filter((m) => !before.mounts.includes(m) && under(m.split(' ')[0] ?? '', scope.paths)),
    loops: now.loops.filter((l) => !before.loops.includes(l) && under(l.split(' ').slice(1).join(' '), scope.paths)),
    processes: now.processes.filter((p) => !pids.has(p.pid) && (!own || own.has(p.pid))),
    // Namespaces are machine-wide and test files run in parallel: count only this process's own
    // (xenroot-KIND-PID-N, e.g. xenroot-nfs-, xenroot-disc-) and those whose owner is gone (really leaked).
    netns: now.netns.filter((n) => !before.netns.includes(n) && ownOrOrphaned(n)),
  };
}

function ownOrOrphaned(netns: string): boolean {
  const m = /^xenroot-[a-z]+-(\d+)-/.exec(netns);
  if (!m) return true;
  const pid = Number(m[1]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false; // a live process of another test file owns it
  } catch {
    return true;
  }
}

/** Daemon processes that are children of this process (the ones a test here started). */
export async function ownDaemons(): Promise<ProcessInfo[]> {
  const all = await listProcesses();
  const mine = new Set<number>([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => mine.has(p.pid) && p.pid !== process.pid && DAEMON_NAMES.test(p.comm));
}

/** Mounts and loop devices under the given paths right now (no snapshot needed). */
export async function resourcesUnder(paths: string[]): Promise<{ mounts: string[]; loops: string[] }> {
  const [mounts, loops] = await Promise.all([listMounts(), listLoops()]);
  return {
    mounts: mounts.filter((m) => under(m.mountPoint, paths)).map((m) => m.mountPoint),
    loops: loops.filter((l) => under(l.backingFile, paths)).map((l) => `${l.name} ${l.backingFile}`),
  };
}

/** Throws listing whatever is new since `before` (scoped); processes and netns are global. */
export async function assertNoLeaks(before: LeakSnapshot, scope: LeakScope = {}): Promise<void> {
  const l = await leaksSince(before, scope);
  const parts: string[] = [];
  if (l.mounts.length) parts.push(`mounts: ${l.mounts.join(', ')}`);
  if (l.loops.length) parts.push(`loop devices: ${l.loops.join(', ')}`);
  if (l.processes.length) parts.push(`processes: ${l.processes.map((p) => `${p.comm}[${p.pid}]`).join(', ')}`);
  if (l.netns.length) parts.push(`network namespaces: ${l.netns.join(', ')}`);
  if (parts.length) throw new Error(`leftovers: ${parts.join('; ')}`);
}
