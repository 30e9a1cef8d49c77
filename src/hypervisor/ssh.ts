/**
 * The ssh transport of xen+ssh:// and qemu+ssh:// URIs, made predictable (docs/hosts.md).
 *
 * libvirt's `ssh` transport runs `ssh [-p PORT] [-l USER] [-i KEYFILE] -T -e none -- HOST sh -c ...`
 * with a fixed environment; it ignores `known_hosts=` (that is for libssh only), and `no_verify=1`
 * becomes StrictHostKeyChecking=no, which OpenSSH then lets connect to a host whose key CHANGED
 * (seen with pubkey auth). So xenroot keeps its own ssh settings in STATE/ssh/ and adds
 * `command=STATE/ssh/xenroot-ssh&no_tty=1` to such URIs: a wrapper that runs `ssh -F
 * STATE/ssh/ssh_config`, whose known_hosts is STATE/ssh/known_hosts with strict checking and
 * BatchMode (never a prompt inside xenroot). `xenroot host trust NAME` records a host's key there.
 * The URI's own `keyfile=`, `command=`, `no_verify=` are left as the user wrote them.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../sys/atomic.js';
import { stateDir } from '../inventory/paths.js';

export interface SshFiles {
  dir: string;
  wrapper: string;
  config: string;
  knownHosts: string;
  /** Admin additions, read first (ssh takes the first value of each option). */
  local: string;
}

export function sshFiles(env: NodeJS.ProcessEnv = process.env): SshFiles {
  const dir = join(stateDir(undefined, undefined, env), 'ssh');
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
  if (!params.some((p) => p.startsWith('command='))) params.push(`command=${wrapper}`);
  if (!params.some((p) => p.startsWith('no_tty='))) params.push('no_tty=1');
  return `${base}?${params.join('&')}`;
}

/** The URI libvirt and virsh open for `uri`: ssh URIs go through xenroot's wrapper. */
export function transportUri(uri: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!isSshUri(uri)) return uri;
  return withSshWrapper(uri, ensureSshFiles(env).wrapper);
}

/** HOST and PORT (22 when not given) of an ssh URI, for known_hosts lines. Pure. */
export function sshTarget(uri: string): { host: string; port: number; user: string | undefined } | undefined {
  const m = /^[a-z0-9]+\+ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/?]+)(?::(\d+))?/i.exec(uri);
  if (!m) return undefined;
  return { user: m[1], host: (m[2] as string).replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : 22 };
}

/** The known_hosts name of a host: `host`, or `[host]:port` off port 22 (as ssh writes it). Pure. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}
