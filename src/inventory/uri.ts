/**
 * Rules for hypervisor URIs (libvirt's DRIVER[+TRANSPORT]://[USER@]HOST[:PORT]/PATH[?NAME=VALUE&...]
 * and xl://), judged on the decoded parts as libvirt itself reads them: libvirt unescapes query
 * names and values and compares names without regard to case (its remote driver, docs uri.rst).
 *
 * Two kinds of rule:
 * - the shape (`uriProblem`): a host is a host name or an address, a user a user name, a port a
 *   number, and no part or value looks like a command-line option (starts with '-') or holds
 *   white space or control characters: ssh and ssh-keyscan get the host and user as arguments;
 * - the host-key policy (`unverifiedHostKeySettings`): settings that connect without checking who
 *   answers. `no_verify` (ssh: StrictHostKeyChecking=no; TLS: no certificate check),
 *   `known_hosts_verify=auto|ignore` (libssh/libssh2: accept an unknown or any key) and `command=`
 *   (replaces the ssh that xenroot runs with its own known_hosts and strict checking). Callers refuse
 *   them unless the admin allowed it explicitly.
 * Pure.
 */

export interface UriParts {
  scheme: string;
  transport: string | undefined;
  user: string | undefined;
  host: string;
  port: number | undefined;
  path: string;
  /** Query parameters, decoded; names lower-cased. */
  params: Array<[string, string]>;
}

const URI_RE = /^([A-Za-z][A-Za-z0-9.-]*)(?:\+([A-Za-z0-9.-]+))?:\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);
const IPV6_RE = /^\[(?=[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{2,45}(?:%[A-Za-z0-9_.-]{1,16})?\]$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
// eslint-disable-next-line no-control-regex
const BAD_CHAR_RE = /[\s\u0000-\u001f\u007f-\u009f]/;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`its ${what} "${part}" has a malformed %-escape`);
  }
}

/** The decoded parts of a URI, or a problem sentence ("its host ... is not ..."). */
export function parseUri(uri: string): UriParts | string {
  const m = URI_RE.exec(uri);
  if (!m) return 'is not DRIVER[+TRANSPORT]://[USER@]HOST[:PORT]/PATH[?NAME=VALUE]';
  try {
    const [, scheme, transport, rawUser, rawHost, rawPort, path, query] = m as unknown as [string, string, string | undefined, string | undefined, string, string | undefined, string, string | undefined];
    const params: Array<[string, string]> = [];
    for (const p of query ? query.split('&').filter(Boolean) : []) {
      const eq = p.indexOf('=');
      const name = decode(eq < 0 ? p : p.slice(0, eq), 'parameter name').toLowerCase();
      params.push([name, decode(eq < 0 ? '' : p.slice(eq + 1), `${name} value`)]);
    }
    const host = decode(rawHost, 'host');
    return {
      scheme: scheme.toLowerCase(),
      transport: transport?.toLowerCase(),
      user: rawUser === undefined ? undefined : decode(rawUser, 'user'),
      host,
      port: rawPort === undefined || rawPort === '' ? undefined : /^\d{1,5}$/.test(rawPort) && Number(rawPort) >= 1 && Number(rawPort) <= 65535 ? Number(rawPort) : NaN,
      path: decode(path, 'path'),
      params,
    };
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * What is wrong with the shape of a URI, as a sentence for an error ("its host \"-oProxyCommand=x\"
 * is not a host name or address"), or undefined when its host, user, port and parameters are sound.
 */
export function uriProblem(uri: string): string | undefined {
  const u = parseUri(uri);
  if (typeof u === 'string') return u;
  if (u.host !== '' && !HOSTNAME_RE.test(u.host) && !IPV6_RE.test(u.host)) return `its host "${u.host}" is not a host name or address (letters, digits, '-' inside, '.' between labels; IPv6 in [ ])`;
  if (u.user !== undefined && !USER_RE.test(u.user)) return `its user "${u.user}" is not a user name (a letter or '_', then letters, digits, '_', '.', '-')`;
  if (u.user !== undefined && u.host === '') return 'names a user but no host';
  if (Number.isNaN(u.port)) return 'its port is not a number from 1 to 65535';
  if (BAD_CHAR_RE.test(u.path)) return 'its path holds white space or a control character';
  for (const [name, value] of u.params) {
    if (!/^[a-z0-9_.-]+$/.test(name)) return `its parameter name "${name}" is not a libvirt parameter name`;
    if (value.startsWith('-')) return `its ${name} value "${value}" starts with '-' (it would be read as an option)`;
    if (BAD_CHAR_RE.test(value)) return `its ${name} value holds white space or a control character`;
  }
  return undefined;
}

/** The settings of a URI that connect without checking the host's key or certificate ("no_verify=1", ...). */
export function unverifiedHostKeySettings(uri: string): string[] {
  const u = parseUri(uri);
  if (typeof u === 'string') return [];
  const out: string[] = [];
  for (const [name, value] of u.params) {
    if (name === 'no_verify' && !/^0+$/.test(value.trim())) out.push(`${name}=${value}`);
    if (name === 'known_hosts_verify' && value.trim().toLowerCase() !== 'normal') out.push(`${name}=${value}`);
    if (name === 'command') out.push(`${name}=${value}`);
  }
  return out;
}
