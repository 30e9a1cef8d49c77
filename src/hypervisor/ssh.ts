/**
 * The ssh transport of xen+ssh:// and qemu+ssh:// URIs, made predictable (docs/hosts.md).
 *
 * libvirt's `ssh` transport runs `ssh [-p PORT] [-l USER] [-i KEYFILE] -T -e none -- HOST sh -c ...`
 * with a fixed environment; it ignores `known_hosts=` (that is for libssh only), and `no_verify=1`
 * becomes StrictHostKeyChecking=no, which OpenSSH then lets connect to a host whose key CHANGED
 * (seen with pubkey auth). So xenroot keeps its own ssh settings in STATE/ssh/ and adds
 * `command=STATE/ssh/xenroot-ssh&no_tty=1` to such URIs: a wrapper that runs `ssh -F
 * STATE/ssh/ssh_config`, whose known_hosts is STATE/ssh/known_hosts with strict checking and
 * BatchMode (never a prompt inside xenroot). `xenroot host trust NAME` records a host's key there
 * (recordHostKey).
 * A URI that skips the host's key check (`no_verify=1`, `command=`, ...) is refused unless the
 * admin allowed it explicitly (checkHostKeyPolicy).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeFileAtomic, writeFileAtomicSync } from '../sys/atomic.js';
import { stateDir } from '../inventory/paths.js';
import { unverifiedHostKeySettings } from '../inventory/uri.js';
import { HypervisorError, UsageError } from '../sys/errors.js';
import { requireProgram } from '../sys/which.js';

export interface SshFiles {
  dir: string;
  wrapper: string;
  config: string;
  knownHosts: string;
  /** Admin additions, read first (ssh takes the first value of each option). */
  local: string;
}

/** The characters a path xenroot writes into ssh_config and its ssh wrapper may hold. */
const SSH_PATH_RE = /^\/[A-Za-z0-9._/+,:=@-]*$/;

/**
 * The files of xenroot's ssh settings under STATE/ssh. Their paths go into ssh_config (split at
 * white space, quotes and `#`; `%` and `~` expanded in UserKnownHostsFile; globs in Include) and
 * into a shell script, so a state directory holding anything but letters, digits and
 * `._/+,:=@-` is refused rather than quoted for each reader: UsageError naming it.
 */
export function sshFiles(env: NodeJS.ProcessEnv = process.env): SshFiles {
  const dir = join(stateDir(undefined, undefined, env), 'ssh');
  if (!SSH_PATH_RE.test(dir))
    throw new UsageError(`xenroot's ssh directory ${JSON.stringify(dir)} cannot be written into ssh_config: its path may hold only letters, digits and ._/+,:=@-`, {
      hint: 'set XENROOT_STATE_DIR to a directory with a plain path',
    });
  return { dir, wrapper: join(dir, 'xenroot-ssh'), config: join(dir, 'ssh_config'), knownHosts: join(dir, 'known_hosts'), local: join(dir, 'ssh_config.local') };
}

/** The ssh_config xenroot runs ssh with. Pure. */
export function sshConfigText(f: SshFiles): string {
  return [
    '# Written by xenroot: ssh settings for xen+ssh:// hosts (docs/hosts.md). Put your own in ssh_config.local.',
    `Include ${f.local}`,
    'Host *',
    `  UserKnownHostsFile ${f.knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  ConnectTimeout 8',
    '  ServerAliveInterval 15',
    '  LogLevel ERROR',
    '',
  ].join('\n');
}

/** Writes the wrapper and config when missing or different; returns the paths. */
export function ensureSshFiles(env: NodeJS.ProcessEnv = process.env): SshFiles {
  const f = sshFiles(env);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  const want = (path: string, text: string, mode: number): void => {
    if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
    writeFileAtomicSync(path, text, { mode });
  };
  want(f.config, sshConfigText(f), 0o600);
  want(f.wrapper, `#!/bin/sh\n# Written by xenroot: libvirt runs this instead of ssh (docs/hosts.md).\nexec ssh -F '${f.config}' "$@"\n`, 0o755);
  if (!existsSync(f.knownHosts)) writeFileAtomicSync(f.knownHosts, '', { mode: 0o600 });
  if (!existsSync(f.local)) writeFileAtomicSync(f.local, '# your own ssh options for xenroot\'s hosts (read before xenroot\'s)\n', { mode: 0o600 });
  return f;
}

/** Whether a URI uses libvirt's OpenSSH transport (xen+ssh://, qemu+ssh://). Pure. */
export function isSshUri(uri: string): boolean {
  return /^[a-z0-9]+\+ssh:\/\//i.test(uri);
}

/** The URI with xenroot's wrapper and no_tty added (unless it names its own command=). Pure. */
export function withSshWrapper(uri: string, wrapper: string): string {
  if (!isSshUri(uri)) return uri;
  const [base, query = ''] = uri.split('?', 2) as [string, string?];
  const params = query ? query.split('&') : [];
  if (!params.some((p) => p.toLowerCase().startsWith('command='))) params.push(`command=${wrapper}`);
  if (!params.some((p) => p.toLowerCase().startsWith('no_tty='))) params.push('no_tty=1');
  return `${base}?${params.join('&')}`;
}

/** The environment variable that allows URIs which skip the host-key check (the CLI's --allow-unverified-host-key sets it). */
export const ALLOW_UNVERIFIED_ENV = 'XENROOT_ALLOW_UNVERIFIED_HOST_KEY';

/**
 * Refuses a URI whose settings connect without checking the host's key or certificate
 * (`no_verify=1`, `known_hosts_verify=ignore|auto`, `command=`), unless the admin allowed it
 * explicitly: `allow`, or $XENROOT_ALLOW_UNVERIFIED_HOST_KEY=1. UsageError naming the settings.
 */
export function checkHostKeyPolicy(uri: string, allow = false, env: NodeJS.ProcessEnv = process.env): void {
  if (allow || env[ALLOW_UNVERIFIED_ENV] === '1') return;
  const bad = unverifiedHostKeySettings(uri);
  if (!bad.length) return;
  throw new UsageError(`hypervisor URI '${uri}' turns off the check of the host's key (${bad.join(', ')})`, {
    hint: 'record the host\'s key with `xenroot host trust NAME` instead; to connect unverified anyway, say so with --allow-unverified-host-key',
  });
}

/**
 * The URI libvirt and virsh open for `uri`: ssh URIs go through xenroot's wrapper. Every libvirt
 * connection passes here, so here the host-key policy holds whatever the URI came from
 * (flag, environment, inventory): UsageError for a URI that skips the host's key check unless
 * the admin allowed it (checkHostKeyPolicy).
 */
export function transportUri(uri: string, env: NodeJS.ProcessEnv = process.env): string {
  checkHostKeyPolicy(uri, false, env);
  if (!isSshUri(uri)) return uri;
  return withSshWrapper(uri, ensureSshFiles(env).wrapper);
}

/** HOST and PORT (22 when not given) of an ssh URI, for known_hosts lines. Pure. */
export function sshTarget(uri: string): { host: string; port: number; user: string | undefined } | undefined {
  const m = /^[a-z0-9]+\+ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/?]+)(?::(\d+))?/i.exec(uri);
  if (!m) return undefined;
  return { user: m[1], host: (m[2] as string).replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : 22 };
}

const HOST_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const KNOWN_HOST_RE = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);

/**
 * The known_hosts name of a host: `host`, or `[host]:port` off port 22 (as ssh writes it). The
 * host must be a host name, or an IPv4 or IPv6 address, and the port 1-65535: in a known_hosts
 * line a space ends the name, a comma separates names, `*`, `?` and `!` are patterns, `#`
 * starts a comment, `@` a marker, `|` a hashed name and `[` the bracket form, so any of them
 * would record a key for other hosts than the one meant. UsageError naming the value. Pure.
 */
export function knownHostsName(host: string, port: number): string {
  if (!KNOWN_HOST_RE.test(host) && !isIP(host))
    throw new UsageError(`ssh host ${JSON.stringify(host)} cannot be named in known_hosts: must be a host name (letters, digits, "-" and ".") or an IPv4 or IPv6 address`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`ssh port ${JSON.stringify(port)} is not valid: must be 1-65535`);
  return port === 22 ? host : `[${host}]:${port}`;
}

/** A public key as known_hosts holds it after the name: TYPE BASE64. */
const SSH_KEY_RE = /^(?:sk-)?(?:ssh-|ecdsa-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}$/;

export interface RecordedKeys {
  /** The known_hosts name: host or [host]:port. */
  known: string;
  file: string;
  /** Lines added (empty: the key was known already). */
  added: string[];
  /** `ssh-keygen -lf` fingerprints of the recorded keys. */
  fingerprints: string[];
}

/**
 * Records the ssh host key of `target` in xenroot's known_hosts (STATE/ssh/known_hosts): the key
 * given in `keyFile` (a host's `ssh_host_*_key.pub`, got by a channel you trust), else whatever the
 * host shows now (`ssh-keyscan -- HOST`: trust on first use; compare the printed fingerprint).
 * `hostLabel` names the host in hints (the inventory's name). Errors: UsageError for a key file with
 * no key; HypervisorError when no ssh server answers, or when a different key is recorded and
 * `replace` is not set; UsageError for a host or port known_hosts cannot carry (knownHostsName);
 * DependencyError without openssh-client.
 */
export async function recordHostKey(
  target: { host: string; port: number },
  opts: { keyFile?: string; replace?: boolean; hostLabel: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<RecordedKeys> {
  const known = knownHostsName(target.host, target.port);
  const f = ensureSshFiles(env);
  let keys: string[];
  if (opts.keyFile) {
    keys = (await readFile(opts.keyFile, 'utf8'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '))
      .filter((l) => SSH_KEY_RE.test(l));
    if (!keys.length) throw new UsageError(`${opts.keyFile} holds no ssh public key (TYPE BASE64 [comment])`);
  } else {
    const keyscan = requireProgram('ssh-keyscan', 'openssh-client', 'to read a host\'s ssh key');
    const r = await execa(keyscan, ['-T', '8', '-p', String(target.port), '--', target.host], { reject: false, stdin: 'ignore' });
    keys = r.stdout
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/\s+/).slice(1, 3).join(' '))
      .filter((k) => SSH_KEY_RE.test(k));
    if (!keys.length) throw new HypervisorError(`no ssh server answered at ${known}: ${r.stderr.trim().split('\n').pop() ?? ''}`, { hint: 'is sshd running there, and the port in the URI right?' });
  }
  const current = await readFile(f.knownHosts, 'utf8').catch(() => '');
  let lines = current.split('\n').filter(Boolean);
  const mine = (l: string) => l.split(/\s+/)[0] === known;
  const old = lines.filter((l) => mine(l) && !keys.includes(l.split(/\s+/).slice(1, 3).join(' ')));
  if (old.length && !opts.replace) {
    throw new HypervisorError(`the ssh host key of ${known} differs from the one recorded in ${f.knownHosts}`, {
      hint: `if the host was reinstalled, run \`xenroot host trust ${opts.hostLabel} --replace\`; otherwise someone may be in the middle`,
    });
  }
  if (opts.replace) lines = lines.filter((l) => !old.includes(l));
  const added = keys.map((k) => `${known} ${k}`).filter((l) => !lines.includes(l));
  if (added.length || old.length) await writeFileAtomic(f.knownHosts, [...lines, ...added].join('\n') + '\n', { mode: 0o600 });
  const keygen = requireProgram('ssh-keygen', 'openssh-client', 'to print key fingerprints');
  const fp = await execa(keygen, ['-lf', '-'], { input: keys.map((k) => `${known} ${k}`).join('\n') + '\n', reject: false });
  return { known, file: f.knownHosts, added, fingerprints: fp.stdout.split('\n').filter(Boolean) };
}
