/**
 * virsh as a second client of the same libvirt connection URI, for what the @unraid/libvirt
 * binding lacks: storage pools and volumes, volume upload and download (virStream), free memory
 * (virNodeGetFreeMemory). Every call runs under a timeout and maps failures like the binding's.
 * Several commands go in one virsh process (`'cmd1; cmd2'`: one connection, one ssh handshake);
 * virsh runs them all even when one fails, so callers put `echo @@KEY` markers between them and
 * read each command's output by its key.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DependencyError, TimeoutError } from '../sys/errors.js';
import { makeTempDir } from '../sys/tmp.js';
import { mapHypervisorError } from './errors.js';

export interface VirshOptions {
  /** The URI virsh opens (the ssh transport URI, with xenroot's ssh wrapper). */
  uri: string;
  /** The URI messages name (the one the user wrote). */
  displayUri: string;
  timeoutMs: number;
  virsh?: string;
}

export interface VirshRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs `virsh -q -c URI ARGS...`; rejects with a HypervisorCallError when `check` and virsh failed. */
export async function virsh(o: VirshOptions, op: string, args: string[], opts: { check?: boolean; timeoutMs?: number; stdout?: 'pipe' | { file: string } } = {}): Promise<VirshRun> {
  const { execa } = await import('execa');
  const timeout = opts.timeoutMs ?? o.timeoutMs;
  let r;
  try {
    r = await execa(o.virsh ?? 'virsh', ['-q', '-c', o.uri, ...args], { timeout, reject: false, stdin: 'ignore', stdout: opts.stdout ?? 'pipe', env: { LC_ALL: 'C' } });
  } catch (err) {
    throw mapHypervisorError(err, op, o.displayUri);
  }
  if ((r as { code?: string }).code === 'ENOENT') throw new DependencyError('virsh is not installed here', { hint: 'install libvirt-clients' });
  if (r.timedOut) throw new TimeoutError(`virsh ${op} at ${o.displayUri} did not finish within ${timeout / 1000} s`, { hint: `is the host reachable? (${o.displayUri})` });
  const out = { stdout: typeof r.stdout === 'string' ? r.stdout : '', stderr: String(r.stderr ?? ''), exitCode: r.exitCode ?? -1 };
  if ((opts.check ?? true) && out.exitCode !== 0) throw mapHypervisorError(new Error(virshErrorText(out.stderr) || `virsh exited ${out.exitCode}`), op, o.displayUri);
  return out;
}

/** virsh's stderr without its `error: ` prefixes and the generic first line. Pure. */
export function virshErrorText(stderr: string): string {
  return stderr
    .split('\n')
    .map((l) => l.replace(/^error:\s*/, '').trim())
    .filter((l) => l && l !== 'failed to connect to the hypervisor')
    .join(': ');
}

/**
 * Runs several commands in one virsh process, each after an `echo @@KEY` marker; returns each
 * command's stdout by key. A command that failed has empty output (its error went to stderr).
 * A failure to connect at all rejects. Keys: [a-z0-9]+.
 */
export async function virshBatch(o: VirshOptions, op: string, cmds: Array<[key: string, cmd: string]>, timeoutMs?: number): Promise<{ out: Map<string, string>; stderr: string }> {
  const script = cmds.map(([k, c]) => `echo @@${k}@@; ${c}`).join('; ');
  const r = await virsh(o, op, [script], { check: false, ...(timeoutMs ? { timeoutMs } : {}) });
  if (r.exitCode !== 0 && !r.stdout.includes('@@')) throw mapHypervisorError(new Error(virshErrorText(r.stderr) || `virsh exited ${r.exitCode}`), op, o.displayUri);
  return { out: splitBatch(r.stdout), stderr: r.stderr };
}

/** Splits `@@KEY@@ output @@KEY2@@ output2` into a map. Pure. */
export function splitBatch(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = stdout.split(/@@([a-z0-9]+)@@/);
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i] as string, (parts[i + 1] ?? '').trim());
  return out;
}

/** `Capacity: N bytes` of `vol-info --bytes`, or undefined. Pure. */
export function parseVolCapacity(text: string): number | undefined {
  const m = /^Capacity:\s+(\d+) bytes/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Total free memory in KiB from `virsh freecell` (`Total: N KiB`, or `0: N KiB` on one cell). Pure. */
export function parseFreecell(text: string): number | undefined {
  const total = /Total:\s+(\d+)\s+KiB/.exec(text);
  if (total) return Number(total[1]);
  const cells = [...text.matchAll(/^\s*\d+:\s+(\d+)\s+KiB/gm)].map((m) => Number(m[1]));
  return cells.length ? cells.reduce((a, b) => a + b, 0) : undefined;
}

/** CPU(s) and Memory size (KiB) of `virsh nodeinfo`. Pure. */
export function parseNodeinfo(text: string): { cpus: number | undefined; memoryKiB: number | undefined } {
  const cpus = /^CPU\(s\):\s+(\d+)/m.exec(text);
  const mem = /^Memory size:\s+(\d+) KiB/m.exec(text);
  return { cpus: cpus ? Number(cpus[1]) : undefined, memoryKiB: mem ? Number(mem[1]) : undefined };
}

/** The <target><path> of `pool-dumpxml`. Pure. */
export function poolTargetPath(xml: string): string | undefined {
  return /<target>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1]?.trim();
}

/**
 * `vol-download --pool POOL [--offset N] VOLUME` into memory. virsh opens its output path itself,
 * and node's child stdout is a socket, which `/dev/stdout` cannot be opened as (virsh: "cannot
 * create /dev/stdout"): so it writes a file in a private temp dir, read back here.
 */
export async function virshDownload(o: VirshOptions, op: string, pool: string, volume: string, opts: { offset?: number; timeoutMs?: number } = {}): Promise<Buffer> {
  const tmp = await makeTempDir('xenroot-vol-');
  try {
    const file = join(tmp.path, 'data');
    await virsh(o, op, ['vol-download', '--pool', pool, ...(opts.offset ? ['--offset', String(opts.offset)] : []), volume, file], opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
    return await readFile(file);
  } finally {
    await tmp.remove();
  }
}
