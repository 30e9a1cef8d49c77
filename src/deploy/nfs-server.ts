/**
 * A private userspace NFS server: nfs-ganesha (Debian nfs-ganesha + nfs-ganesha-vfs) in the
 * foreground, NFSv4 only, bound to loopback, for machines without a kernel NFS server (tests,
 * `xenroot test --serve-nfs`, `xenroot demo`). A QEMU guest on user networking reaches it as
 * 10.0.2.2 and mounts with `port=N`.
 *
 *   const nfs = await startNfsServer({ exports: [{ path: '/srv/images/terminal' }] });
 *   // guest: mount -t nfs4 -o port=${nfs.port},... 10.0.2.2:/export /newroot
 *   await nfs.stop();
 *
 * The server runs under `setpriv --pdeathsig TERM`, so it dies with its parent even if the parent is
 * killed outright; it is registered with the cleanup registry (src/sys/lifetime.ts), so the
 * signal policy stops it too; stop() sends SIGTERM and SIGKILL after 10 s.
 *
 * NFSv3 (`versions: [3, 4]`) needs rpcbind, which listens on every address, so it is served only
 * with `netns: true`: a network namespace made here (`ip netns add xenroot-nfs-PID-N`, loopback
 * only) and a private mount namespace whose /run is a tmpfs (rpcbind's socket and lock files),
 * holding rpcbind and ganesha. A guest reaches it when its QEMU runs in the same namespace
 * (`ip netns exec NAME ...`); v3 clients mount the export's Path, v4 clients its Pseudo path.
 *
 * In netns mode nothing in the host's network namespace reaches the server: no local user, root
 * included, can connect to its port or mount its exports from there (root can still enter the
 * namespace; that is out of scope). A QEMU guest reaches it when its QEMU runs inside the namespace:
 * `qemuEmulator` is a root-only wrapper (in the work dir) that starts qemu-system-x86_64 there
 * (`nsenter --net=/proc/PID/ns/net`), for a libvirt domain's <emulator>; the guest's user network then
 * shows the namespace's loopback as 10.0.2.2, so the guest mounts 10.0.2.2:/export as before. The
 * wrapper refuses to run once the server is gone (the namespace's inode is checked, so a reused PID
 * never lends its namespace). It needs a libvirtd that runs QEMU as root (xenroot's private one does).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { DependencyError, DeployError, TimeoutError, UsageError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { onCleanup } from '../sys/lifetime.js';
import { descendants, killPid, killPidNow, pidAlive, pidListensOn } from '../sys/proc.js';
import { requireProgram } from '../sys/which.js';
import { makeTempDir } from '../sys/tmp.js';
import { tcpReachable } from '../sys/sockets.js';
import { renderGaneshaConfig, isLoopbackV4, type GaneshaExport } from '../render/ganesha.js';

export interface NfsExportSpec {
  /** Directory to serve. */
  path: string;
  /** NFSv4 pseudo path (default /export for the first export, /export2, /export3, ... after it). */
  pseudo?: string;
  /** Read-write (default read-only). */
  rw?: boolean;
}

export interface NfsServerOptions {
  exports: NfsExportSpec[];
  /** An exact port (fails if it is taken). Default: 2049 if free, else a free one. */
  port?: number;
  /** Loopback address to bind (default 127.0.0.1). */
  bindAddr?: string;
  /** Work dir for config, log, pid file and recovery state (default: a new temp dir, removed at stop). */
  workDir?: string;
  /** Keep a temp work dir after stop (for reading the log). */
  keepWorkDir?: boolean;
  /** How long to wait for the port to accept TCP (default 30 s). */
  startTimeoutMs?: number;
  /** NFS versions (default [4]); 3 needs `netns: true`. */
  versions?: (3 | 4)[];
  /** Run rpcbind + ganesha in a network namespace made for this server (deleted at stop). */
  netns?: boolean;
}

export interface NfsServer {
  port: number;
  bindAddr: string;
  exports: GaneshaExport[];
  pid: number;
  /** The network namespace the server runs in (netns mode), else undefined. */
  netns: string | undefined;
  /** rpcbind's PID (netns mode). */
  rpcbindPid: number | undefined;
  /** netns mode: a root-only executable that runs qemu-system-x86_64 (its arguments as given) inside the server's network namespace. */
  qemuEmulator: string | undefined;
  versions: (3 | 4)[];
  workDir: string;
  configFile: string;
  logFile: string;
  /** The last lines of ganesha's log, without its DBus/krb5 noise. */
  logTail(lines?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after 10 s; idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_PORT = 2049;
const STOP_GRACE_MS = 10_000;
const NOISE = /:DBUS :|krb5|keytab|gssd_|Cannot register NFS V4 on UDP|__Register_program/;

async function portIsFree(addr: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen({ host: addr, port, exclusive: true }, () => srv.close(() => res(true)));
  });
}

async function freePort(addr: string): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen({ host: addr, port: 0, exclusive: true }, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => res(port));
    });
  });
}

async function tail(file: string, lines: number): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l && !NOISE.test(l))
    .slice(-lines)
    .map((l) => l.replace(/^.*?\] /, ''))
    .join('\n');
}

async function resolveExports(specs: NfsExportSpec[]): Promise<GaneshaExport[]> {
  if (specs.length === 0) throw new UsageError('the NFS server needs at least one export', { hint: 'give an image directory' });
  const out: GaneshaExport[] = [];
  for (const [i, e] of specs.entries()) {
    const path = resolve(e.path);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new DeployError(`NFS export ${path} is not an existing directory`, { hint: 'export the image root directory (loop-mount a file image first)' });
    }
    out.push({ id: i + 1, path, pseudo: e.pseudo ?? (i === 0 ? '/export' : `/export${i + 1}`), access: e.rw ? 'RW' : 'RO' });
  }
  return out;
}

function findGanesha(): void {
  requireProgram('ganesha.nfsd', 'nfs-ganesha', 'to serve the image over NFS');
  requireProgram('setpriv', 'util-linux', 'to serve the image over NFS');
  const fsal = ['/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so', '/usr/lib/ganesha/libfsalvfs.so', '/usr/lib64/ganesha/libfsalvfs.so'];
  if (!fsal.some((p) => existsSync(p))) {
    throw new DependencyError('the VFS backend of nfs-ganesha (libfsalvfs.so) is missing', { hint: 'apt-get install nfs-ganesha-vfs' });
  }
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

let netnsCounter = 0;

async function deleteNetns(name: string): Promise<void> {
  const r = await execa('ip', ['netns', 'del', name], { reject: false });
  if (r.exitCode !== 0 && !/No such file/.test(String(r.stderr))) {
    throw new DeployError(`ip netns del ${name} failed: ${String(r.stderr).trim()}`);
  }
}

/**
 * Deletes the network namespaces of NFS servers whose owner process died without stopping them
 * (SIGKILL): `xenroot-nfs-PID-N` where PID is gone; what still runs inside it is stopped by PID.
 * Returns the names deleted.
 */
export async function sweepStaleNetns(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  const swept: string[] = [];
  for (const line of String(r.stdout).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^xenroot-nfs-(\d+)-\d+$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    // Whatever still runs in it was started for that server (rpcbind, ganesha): stop it by PID.
    const pids = await execa('ip', ['netns', 'pids', name], { reject: false });
    if (pids.exitCode !== 0) continue;
    for (const p of String(pids.stdout).split('\n').filter(Boolean)) await killPid(Number(p));
    await deleteNetns(name);
    log().info({ netns: name }, 'deleted the network namespace of a dead NFS server owner');
    swept.push(name);
  }
  return swept;
}

/** Starts ganesha and resolves once its port accepts TCP; see the module comment. */
export async function startNfsServer(options: NfsServerOptions): Promise<NfsServer> {
  const bindAddr = options.bindAddr ?? '127.0.0.1';
  if (!isLoopbackV4(bindAddr)) {
    throw new UsageError(`NFS bind address ${bindAddr} is not a loopback address`, { hint: 'use 127.0.0.1 (any 127.0.0.0/8 address)' });
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) {
    throw new UsageError(`NFS port ${options.port} is not a TCP port`, { hint: 'give 1..65535, or leave it out for 2049 or a free one' });
  }
  const versions = [...new Set(options.versions ?? [4])].sort() as (3 | 4)[];
  if (versions.length === 0 || versions.some((v) => v !== 3 && v !== 4)) {
    throw new UsageError(`NFS versions ${JSON.stringify(options.versions)} are not a subset of [3, 4]`);
  }
  if (versions.includes(3) && !options.netns) {
    throw new UsageError('NFSv3 needs rpcbind, which listens on every address: it is served only in a private network namespace', {
      hint: 'pass netns: true (or serve NFSv4 only)',
    });
  }
  const exports = await resolveExports(options.exports);
  findGanesha();

  const own = options.workDir === undefined ? await makeTempDir('xenroot-nfs-') : undefined;
  const workDir = own ? own.path : resolve(options.workDir as string);
  await mkdir(join(workDir, 'recov'), { recursive: true });
  const configFile = join(workDir, 'ganesha.conf');
  const logFile = join(workDir, 'ganesha.log');
  const pidFile = join(workDir, 'ganesha.pid');
  const timeout = options.startTimeoutMs ?? 30_000;

  const removeWorkDir = async (): Promise<void> => {
    if (!own) return;
    if (options.keepWorkDir) own.keep();
    else await own.remove();
  };

  for (let attempt = 1; ; attempt++) {
    let port: number;
    if (options.netns) {
      // A namespace of its own: every port is free there.
      port = options.port ?? DEFAULT_PORT;
    } else if (options.port !== undefined) {
      port = options.port;
      if (!(await portIsFree(bindAddr, port))) {
        await removeWorkDir();
        throw new DeployError(`NFS port ${bindAddr}:${port} is already in use`, { hint: 'leave the port out to get a free one' });
      }
    } else {
      port = attempt === 1 && (await portIsFree(bindAddr, DEFAULT_PORT)) ? DEFAULT_PORT : await freePort(bindAddr);
    }
    // In a namespace of our own only lo exists; ganesha resolves Bind_addr with AI_ADDRCONFIG,
    // which finds nothing there, so it binds the namespace's every (loopback-only) address.
    const config = renderGaneshaConfig({ bindAddr, port, recoveryDir: join(workDir, 'recov'), exports, versions, bindAllInNetns: !!options.netns });
    await writeFile(configFile, config);
    await rm(logFile, { force: true });
    try {
      return await launch({ port, bindAddr, exports, versions, workDir, configFile, logFile, pidFile, timeout, options, removeWorkDir });
    } catch (err) {
      // Someone took the port between the check and the bind: try another one.
      const raced = err instanceof DeployError && /Address already in use/.test(err.message);
      if (raced && options.port === undefined && attempt < 3) {
        log().debug({ port }, 'NFS port taken meanwhile, trying another');
        continue;
      }
      await removeWorkDir();
      throw err;
    }
  }
}

/**
 * Writes WORKDIR/qemu-in-netns (mode 0700): a shell wrapper that execs qemu-system-x86_64 with its
 * arguments inside the network namespace of process `pid`, after checking that the namespace is
 * still the one it was written for (by inode: a PID reused after the server stopped fails the check).
 * Returns its path. DependencyError when qemu-system-x86_64 or nsenter is missing.
 */
async function writeQemuWrapper(workDir: string, pid: number): Promise<string> {
  const qemu = requireProgram('qemu-system-x86_64', 'qemu-system-x86', 'to boot a guest of the private NFS server');
  const nsenter = requireProgram('nsenter', 'util-linux', 'to boot a guest of the private NFS server');
  const ns = `/proc/${pid}/ns/net`;
  const inode = (await stat(ns)).ino;
  const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const file = join(workDir, 'qemu-in-netns');
  await writeFile(
    file,
    [
      '#!/bin/sh',
      '# Written by xenroot: QEMU inside the network namespace of a private NFS server (removed at its stop).',
      `[ "$(stat -L -c %i ${ns} 2>/dev/null)" = "${inode}" ] || { echo "xenroot: the private NFS server (pid ${pid}) is gone" >&2; exit 1; }`,
      `exec ${q(nsenter)} --net=${ns} -- ${q(qemu)} "$@"`,
      '',
    ].join('\n'),
    { mode: 0o700 },
  );
  return file;
}

interface LaunchInput {
  versions: (3 | 4)[];
  port: number;
  bindAddr: string;
  exports: GaneshaExport[];
  workDir: string;
  configFile: string;
  logFile: string;
  pidFile: string;
  timeout: number;
  options: NfsServerOptions;
  removeWorkDir: () => Promise<void>;
}

async function launch(input: LaunchInput): Promise<NfsServer> {
  const { port, bindAddr, exports, versions, workDir, configFile, logFile, pidFile, timeout, options } = input;
  const ganesha = ['setpriv', '--pdeathsig', 'TERM', 'ganesha.nfsd', '-F', '-f', configFile, '-L', logFile, '-p', pidFile, '-N', 'NIV_EVENT'];
  let netns: string | undefined;
  let child: ResultPromise;
  if (options.netns) {
    await sweepStaleNetns();
    netns = `xenroot-nfs-${process.pid}-${++netnsCounter}`;
    const made = await execa('ip', ['netns', 'add', netns], { reject: false });
    if (made.exitCode !== 0) throw new DeployError(`ip netns add ${netns} failed: ${String(made.stderr).trim()}`, { hint: 'network namespaces need root' });
    const lo = await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up'], { reject: false });
    if (lo.exitCode !== 0) {
      await deleteNetns(netns);
      throw new DeployError(`ip -n ${netns} link set lo up failed: ${String(lo.stderr).trim()}`);
    }
    // One private mount namespace for rpcbind and ganesha: /run is a tmpfs there, so rpcbind's
    // socket and lock never meet the host's or another server's. The shell execs into ganesha, so
    // the PID is ganesha's; rpcbind dies with it (pdeathsig) and is stopped by PID as well.
    const script = [
      'mount -t tmpfs -o mode=755 xenroot-run /run || exit 97',
      'mkdir -p /run/rpcbind',
      // rpcbind drops to its own user, which clears a parent-death signal: a small root guard
      // shell carries it instead and kills rpcbind when ganesha dies. Neither may hold our stderr
      // pipe, or ganesha's exit would go unnoticed.
      `setpriv --pdeathsig TERM sh -c 'rpcbind -f -w & r=$!; trap "kill $r; wait $r; exit 0" TERM INT; wait $r' </dev/null >/dev/null 2>&1 &`,
      'i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
      '[ -S /run/rpcbind.sock ] || { echo "rpcbind did not start" >&2; exit 98; }',
      `exec ${ganesha.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`,
    ].join('\n');
    // nsenter execs (ip netns exec forks and waits), so the PID we hold ends up being ganesha's.
    child = execa('nsenter', [`--net=/run/netns/${netns}`, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script], {
      stdio: ['ignore', 'ignore', 'pipe'],
      reject: false,
      cleanup: true,
      forceKillAfterDelay: STOP_GRACE_MS,
    });
  } else {
    child = execa(ganesha[0] as string, ganesha.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], reject: false, cleanup: true, forceKillAfterDelay: STOP_GRACE_MS });
  }
  const pid = child.pid;
  if (pid === undefined) {
    if (netns) await deleteNetns(netns);
    throw new DeployError('ganesha.nfsd could not be started');
  }
  let rpcbindPid: number | undefined;
  let exited = false;
  let exitInfo = '';
  const done = child.then((r) => {
    exited = true;
    exitInfo = `exit ${r.exitCode ?? r.signal}${String(r.stderr).trim() ? `: ${String(r.stderr).trim().split('\n').pop()}` : ''}`;
  });
  log().debug({ pid, port, workDir }, 'ganesha.nfsd started');

  let halting: Promise<void> | undefined;
  const halt = (): Promise<void> => {
    halting ??= (async () => {
      if (!exited) {
        if (netns && rpcbindPid === undefined) rpcbindPid = descendants(pid, 'rpcbind')[0];
        // SIGTERM; execa sends SIGKILL if it is still there after STOP_GRACE_MS (forceKillAfterDelay).
        child.kill('SIGTERM');
        await done;
      }
      if (rpcbindPid !== undefined) await killPid(rpcbindPid, { graceMs: STOP_GRACE_MS, what: 'rpcbind' });
      if (netns) await deleteNetns(netns);
    })();
    return halting;
  };
  // Stopped by the owner through stop(), or by the signal policy; at exit only what a handler can do.
  const cleanup = onCleanup(`NFS server pid ${pid}`, () => halt().then(() => input.removeWorkDir()), {
    sync: () => {
      if (!exited) killPidNow(pid);
      if (rpcbindPid !== undefined) killPidNow(rpcbindPid);
      if (netns) spawnSync('ip', ['netns', 'del', netns]);
    },
  });
  const stop = (): Promise<void> => cleanup.run();

  const started = Date.now();
  for (;;) {
    if (exited) {
      const t = await tail(logFile, 12);
      await halt();
      cleanup.release();
      const inUse = /Address already in use/.test(t);
      throw new DeployError(`ganesha.nfsd exited while starting on ${bindAddr}:${port} (${exitInfo})${inUse ? ': Address already in use' : ''}\n${t}`, {
        hint: inUse ? 'another server holds the port' : `see ${logFile}`,
      });
    }
    if (pidListensOn(pid, port) && (netns || (await tcpReachable(bindAddr, port)).ok)) break;
    if (Date.now() - started > timeout) {
      const t = await tail(logFile, 12);
      await halt();
      cleanup.release();
      throw new TimeoutError(`ganesha.nfsd did not accept TCP on ${bindAddr}:${port} within ${Math.round(timeout / 1000)} s\n${t}`, {
        hint: 'nfs-ganesha and nfs-ganesha-vfs must be installed; the log tail is above',
      });
    }
    await sleep(100);
  }
  // An export ganesha could not create leaves the server up without it: that is a failure.
  const full = await readFile(logFile, 'utf8').catch(() => '');
  const bad = full.split('\n').filter((l) => /Could not create export|:CONFIG :CRIT/.test(l));
  if (bad.length) {
    const t = await tail(logFile, 12);
    await halt();
    cleanup.release();
    throw new DeployError(`ganesha.nfsd rejected its configuration: ${bad[0]?.replace(/^.*?\] /, '')}\n${t}`, { hint: `see ${configFile}` });
  }
  if (netns) rpcbindPid = descendants(pid, 'rpcbind')[0];
  const qemuEmulator = netns ? await writeQemuWrapper(workDir, pid) : undefined;
  log().info({ pid, port, netns, versions, exports: exports.map((e) => `${e.pseudo}=${e.path}`), ms: Date.now() - started }, 'NFS server ready');
  return {
    port,
    bindAddr,
    exports,
    pid,
    netns,
    rpcbindPid,
    qemuEmulator,
    versions,
    workDir,
    configFile,
    logFile,
    logTail: (lines = 20) => tail(logFile, lines),
    stop,
  };
}
