/**
 * Which hypervisor a command talks to, and opening it. Precedence of the URI:
 * --connect URI > $XENROOT_CONNECT > the guest's `connect:` > the site default > xen:///system.
 * `xl://` selects the xl toolstack driver; anything else is a libvirt URI
 * (test:///default, qemu:///system, qemu:///session, xen:///system, xen+tcp://, xen+ssh://, ...).
 */
import { uriProblem } from '../inventory/uri.js';
import { UsageError } from '../sys/errors.js';
import { LibvirtHypervisor, type LibvirtOptions } from './libvirt.js';
import type { Hypervisor } from './types.js';
import { XlHypervisor, type XlOptions } from './xl.js';

export const DEFAULT_URI = 'xen:///system';

export interface UriSources {
  flag?: string | undefined;
  env?: string | undefined;
  guest?: string | undefined;
  site?: string | undefined;
}

export function resolveUri(sources: UriSources, env: NodeJS.ProcessEnv = process.env): string {
  const pick = [sources.flag, sources.env ?? env['XENROOT_CONNECT'], sources.guest, sources.site].find((v) => v !== undefined && v.trim() !== '');
  const uri = (pick ?? DEFAULT_URI).trim();
  validateUri(uri);
  return uri;
}

/**
 * Accepts DRIVER[+TRANSPORT]://[USER@][HOST][:PORT]/PATH[?query] and xl://, with a sound host,
 * user, port and parameters (inventory/uri.ts: no part that looks like an option). UsageError
 * naming the bad part otherwise.
 */
export function validateUri(uri: string): void {
  const hint = 'accepted: xen:///system, qemu:///system, qemu:///session, test:///default, xen+ssh://USER@HOST/system, xen+tcp://HOST/system, xl://';
  if (!/^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\/[^\s]*$/i.test(uri)) throw new UsageError(`'${uri}' is not a hypervisor URI`, { hint });
  const problem = uriProblem(uri);
  if (problem) throw new UsageError(`hypervisor URI '${uri}' is refused: ${problem}`, { hint });
}

export function isXlUri(uri: string): boolean {
  return /^xl:\/\//i.test(uri);
}

export interface OpenOptions {
  libvirt?: LibvirtOptions;
  xl?: XlOptions;
}

/** Creates the driver for a URI (not yet connected). */
export function hypervisorFor(uri: string, options: OpenOptions = {}): Hypervisor {
  validateUri(uri);
  return isXlUri(uri) ? new XlHypervisor(options.xl) : new LibvirtHypervisor(uri, options.libvirt);
}


