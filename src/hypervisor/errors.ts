/**
 * libvirt and xl report failures as text only (@unraid/libvirt drops libvirt's error codes). This
 * module maps those messages to one typed error with a machine-readable reason and a hint.
 */
import { HypervisorError, TimeoutError } from '../sys/errors.js';

export type HypervisorFailure =
  | 'no-such-domain'
  | 'already-running'
  | 'not-running'
  | 'already-exists'
  | 'unreachable'
  | 'permission'
  | 'unsupported'
  | 'invalid-config'
  // The ssh transport of xen+ssh:// / qemu+ssh://, each with its own hint:
  | 'ssh-host-key-changed'
  | 'ssh-host-unknown'
  | 'ssh-auth'
  | 'ssh-no-libvirt'
  | 'ssh-no-sshd'
  | 'libvirtd-down'
  | 'other';

/** Reasons that mean "this host cannot be reached or used at all" (fleet operations report the host, not each guest). */
export function isHostFailure(reason: HypervisorFailure): boolean {
  return reason === 'unreachable' || reason.startsWith('ssh-') || reason === 'libvirtd-down';
}

/** A HypervisorError that says what kind of failure it was. */
export class HypervisorCallError extends HypervisorError {
  readonly reason: HypervisorFailure;
  readonly uri: string;

  constructor(message: string, reason: HypervisorFailure, uri: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options);
    this.reason = reason;
    this.uri = uri;
  }
}

/**
 * The ssh transport's failures come back wrapped in libvirt's `Cannot recv data: ...` / `End of
 * file while reading data: ...`, which the generic 'unreachable' pattern would take: these go
 * first. Messages as recorded with libvirt 9.0 + OpenSSH 9.2 and libssh (docs/hosts.md).
 */
const sshPatterns: Array<[RegExp, HypervisorFailure]> = [
  // OpenSSH's banner, and libssh's "!!! SSH HOST KEY VERIFICATION FAILED !!!" (upper case: OpenSSH's
  // "Host key verification failed." alone means an unknown key).
  [/REMOTE HOST IDENTIFICATION HAS CHANGED|SSH HOST KEY VERIFICATION FAILED|differs from stored identity/, 'ssh-host-key-changed'],
  [/No \S+ host key is known|Host key verification failed|was not accepted|Can't verify the session host key/i, 'ssh-host-unknown'],
  [/Permission denied \(publickey|Access denied for 'publickey'|failed to authenticate/i, 'ssh-auth'],
  [/virt-ssh-helper: cannot connect to/i, 'libvirtd-down'],
  [/\b(nc|virt-ssh-helper): (command )?not found/i, 'ssh-no-libvirt'],
  [/ssh: connect to host .*(Connection refused|timed out|No route to host)|ssh: Could not resolve hostname/i, 'ssh-no-sshd'],
];

const patterns: Array<[RegExp, HypervisorFailure]> = [
  ...sshPatterns,
  [/domain not found|no domain with matching|invalid domain identifier|unable to find domain|domain .* does not exist/i, 'no-such-domain'],
  [/already running|domain is already active|is already active/i, 'already-running'],
  [/domain is not running|not running|domain .* is not active/i, 'not-running'],
  [/already exists/i, 'already-exists'],
  [
    /failed to connect socket|connection refused|unable to connect to server|no such file or directory.*sock|cannot recv data|end of file while reading data|connection reset|network is unreachable|no route to host|name or service not known|could not resolve|host key verification failed|failed to connect to the hypervisor|broken pipe/i,
    'unreachable',
  ],
  [/permission denied|authentication failed|access denied|not permitted|polkit/i, 'permission'],
  [/no connection driver available|not supported by the connection driver|unsupported|this function is not supported/i, 'unsupported'],
  [/xml error|premature end of data|failed to parse|invalid argument|unsupported configuration|xml document/i, 'invalid-config'],
];

/** Classifies a libvirt/xl message. Pure. */
export function classifyHypervisorMessage(message: string): HypervisorFailure {
  for (const [re, reason] of patterns) if (re.test(message)) return reason;
  return 'other';
}

/** USER@HOST:PORT of a URI, for messages ('' when it names no host). */
export function uriHost(uri: string): string {
  const m = /^[a-z0-9+]+:\/\/([^/?]*)/i.exec(uri);
  return m?.[1] ?? '';
}

/** The one-line summary of an ssh failure (the raw text can be a 20-line OpenSSH banner). */
function sshSummary(reason: HypervisorFailure, text: string, uri: string): string | undefined {
  const host = uriHost(uri) || 'the host';
  switch (reason) {
    case 'ssh-host-key-changed': {
      const where = /Offending \S+ key in (\S+):(\d+)/.exec(text) ?? /The key is stored in '([^']+)'/.exec(text);
      return `the ssh host key of ${host} has CHANGED${where ? ` (known_hosts ${where[1]}${where[2] ? `:${where[2]}` : ''})` : ''}: refusing to connect`;
    }
    case 'ssh-host-unknown':
      return `the ssh host key of ${host} is not known yet: refusing to connect`;
    case 'ssh-auth':
      return `${host} refused the ssh key (${/Permission denied \(([^)]*)\)/.exec(text)?.[1] ?? 'publickey'})`;
    case 'ssh-no-libvirt':
      return `${host} has no virt-ssh-helper (libvirt-daemon) nor nc to reach libvirtd over ssh`;
    case 'ssh-no-sshd':
      return /Could not resolve hostname/i.test(text) ? `ssh cannot resolve the host name of ${host}` : `no ssh server answers at ${host}`;
    case 'libvirtd-down':
      return `libvirtd is not running on ${host} (ssh worked)`;
    default:
      return undefined;
  }
}

function hintFor(reason: HypervisorFailure, uri: string, domain: string | undefined): string | undefined {
  const host = uriHost(uri) || uri;
  switch (reason) {
    case 'ssh-host-key-changed':
      return `if the host was reinstalled, remove its old line from xenroot's known_hosts and run \`xenroot host trust HOST\`; otherwise someone may be in the middle (docs/hosts.md)`;
    case 'ssh-host-unknown':
      return `check the key's fingerprint, then \`xenroot host trust HOST\` records it in xenroot's known_hosts (docs/hosts.md)`;
    case 'ssh-auth':
      return `put the public key of the URI's keyfile= (or your ssh agent's) into ${host.replace(/:\d+$/, '')}:~/.ssh/authorized_keys; xenroot runs ssh with BatchMode (no password prompts)`;
    case 'ssh-no-libvirt':
      return `install libvirt-daemon (it has virt-ssh-helper) on ${host}, or netcat-openbsd`;
    case 'ssh-no-sshd':
      return `is sshd running on ${host} and the port in the URI right? (xen+ssh://USER@HOST:PORT/system)`;
    case 'libvirtd-down':
      return `start libvirtd (or virtxend) on ${host}`;
    case 'no-such-domain':
      return domain
        ? `the hypervisor at ${uri} has no domain '${domain}': run \`xenroot define ${domain}\` or \`xenroot start ${domain}\``
        : `check the name with \`xenroot status\``;
    case 'already-running':
      return domain ? `stop it first: \`xenroot stop ${domain}\` (or --force)` : undefined;
    case 'not-running':
      return domain ? `start it with \`xenroot start ${domain}\`` : undefined;
    case 'already-exists':
      return domain ? `a domain '${domain}' already exists at ${uri}: \`xenroot undefine ${domain}\` removes the definition` : undefined;
    case 'unreachable':
      return `is libvirtd (or virtqemud/virtxend) running and reachable at ${uri}? Select another host with --connect URI or XENROOT_CONNECT`;
    case 'permission':
      return `the user lacks access to ${uri}: run as root, join the libvirt group, or use a session URI (qemu:///session)`;
    case 'unsupported':
      return `the driver behind ${uri} does not support this; accepted URIs: xen:///system, qemu:///system, qemu:///session, test:///default, xen+ssh://HOST/system, xen+tcp://HOST/system, xl://`;
    default:
      return undefined;
  }
}

/** Turns whatever a libvirt/xl call threw into a HypervisorCallError naming the operation. */
export function mapHypervisorError(err: unknown, op: string, uri: string, domain?: string): HypervisorCallError {
  if (err instanceof HypervisorCallError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const text = raw.replace(/\s+/g, ' ').trim() || 'unknown error';
  const reason = classifyHypervisorMessage(text);
  const subject = domain ? ` '${domain}'` : '';
  // libvirt's client prepends this to every failed remote connect, whatever the cause: noise here.
  const detail = sshSummary(reason, raw, uri) ?? (text.replace(/Authorization not available\. Check if polkit service is running or see debug message for more information\.:?\s*/i, '') || text);
  return new HypervisorCallError(`${op}${subject} at ${uri} failed: ${detail}`, reason, uri, {
    hint: hintFor(reason, uri, domain),
    cause: err,
  });
}

/** Rejects with a TimeoutError when `p` does not settle within `ms`.  */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string, hint?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not answer within ${ms / 1000} s`, hint ? { hint } : {})), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
