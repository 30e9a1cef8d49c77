/**
 * Mount helpers for image sessions: read /proc/self/mountinfo, mount and unmount through
 * mount(8)/umount(8), and resolve a path inside a chroot without ever leaving it (an image's
 * /var/lock is often a symlink to /run/lock, which must resolve inside the image, not on the host).
 */
import { lstat, readFile, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { execa } from 'execa';
import { ImageError } from '../sys/errors.js';

export interface MountEntry {
  id: number;
  parentId: number;
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
}

/** Undoes the octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) of mountinfo. */
export function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses the text of /proc/self/mountinfo. Pure. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    out.push({
      id: Number(l[0]),
      parentId: Number(l[1]),
      mountPoint: unescapeMountinfo(l[4] ?? ''),
      options: l[5] ?? '',
      fsType: r[0] ?? '',
      source: unescapeMountinfo(r[1] ?? ''),
    });
  }
  return out;
}

export async function listMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await listMounts()).some((m) => m.mountPoint === path);
}

/** Mount points at or below `dir` (deepest first), for leak checks and emergency unwinding. */
export async function mountsUnder(dir: string): Promise<MountEntry[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return (await listMounts())
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

/** mount(8)'s own message: the first line that is not its "dmesg(1) may have more" hint. */
function firstLine(text: unknown): string {
  const lines = String(text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/dmesg\(1\)/.test(l));
  return lines[0] ?? '';
}

/** Runs mount(8); a failure is an ImageError naming the step, the path and mount's own message. */
export async function mount(step: string, args: string[], target: string): Promise<void> {
  const r = await execa('mount', [...args, target], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    throw new ImageError(`${step}: mount ${[...args, target].join(' ')} failed: ${firstLine(r.stderr) || `exit ${r.exitCode}`}`, {
      hint: 'mounting needs root (CAP_SYS_ADMIN); check that the image and the mount point exist',
    });
  }
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/**
 * Unmounts `target` if it is mounted. A busy mount is retried a few times (a process that held it
 * may still be exiting), then detached lazily so that nothing stays in the mount table.
 */
export async function unmountIfMounted(target: string): Promise<void> {
  for (let attempt = 0; attempt < 6; attempt++) {
    if (!(await isMountPoint(target))) return;
    const r = await execa('umount', [target], { reject: false, stdin: 'ignore' });
    if (r.exitCode === 0) continue; // stacked mounts: loop until none is left
    if (!/busy/i.test(String(r.stderr))) {
      throw new ImageError(`unmount ${target} failed: ${firstLine(r.stderr)}`);
    }
    await sleep(100 * (attempt + 1));
  }
  if (await isMountPoint(target)) {
    const r = await execa('umount', ['-l', target], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new ImageError(`unmount ${target} failed (still busy): ${firstLine(r.stderr)}`);
  }
}

/**
 * Resolves `rel` inside `root` the way a process chrooted to `root` would see it: symlinks
 * (absolute or relative) are followed but can never escape `root`. Returns the host path and
 * whether it exists. Components after a missing one are appended as they are.
 */
export async function resolveInRoot(root: string, rel: string): Promise<{ path: string; exists: boolean }> {
  const pending = rel.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let hops = 0;
  while (pending.length) {
    const c = pending.shift() as string;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = posix.join(root, ...done, c);
    let st;
    try {
      st = await lstat(host);
    } catch {
      return { path: posix.join(root, ...done, c, ...pending), exists: false };
    }
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new ImageError(`too many symlinks resolving /${rel} in ${root}`);
      const target = await readlink(host);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    done.push(c);
  }
  return { path: posix.join(root, ...done), exists: true };
}
