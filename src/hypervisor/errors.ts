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
  | 'other';

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

const patterns: Array<[RegExp, HypervisorFailure]> = [
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

function hintFor(reason: HypervisorFailure, uri: string, domain: string | undefined): string | undefined {
  switch (reason) {
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
  return new HypervisorCallError(`${op}${subject} at ${uri} failed: ${text}`, reason, uri, {
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
