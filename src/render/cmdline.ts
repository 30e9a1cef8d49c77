/**
 * The one function that builds kernel command lines (docs/cmdline.md is the contract).
 * Pure: model values in, a string out; values that cannot be carried safely are refused.
 */
import { RenderError } from '../errors.js';
import { CMDLINE_MAX, checkKernelArgs } from '../inventory/validate.js';

export type ConsoleKind = 'xen' | 'qemu' | 'pxe';

export interface CmdlineInput {
  /** NFS server address or host name. */
  server: string;
  /** Exported path of the root filesystem. */
  path: string;
  nfsVersion: 3 | 4;
  /** Comma-separated mount options ("" for none). */
  nfsOptions?: string;
  console: ConsoleKind;
  selinux?: boolean;
  /** Arguments appended last, in order (image append, then guest or client append). */
  extra?: (string | undefined)[];
}

const CONSOLES: Record<ConsoleKind, string> = {
  xen: 'console=hvc0',
  qemu: 'console=ttyS0',
  // Physical machines: kernel messages on serial and screen, the screen is /dev/console.
  pxe: 'console=ttyS0,115200 console=tty0',
};

/** root=nfs:SERVER:/PATH[:OPTS] (NFSv3) or root=nfs4:SERVER:/PATH[:OPTS]. */
export function nfsRootArg(server: string, path: string, version: 3 | 4, options = ''): string {
  const scheme = version === 4 ? 'nfs4' : 'nfs';
  return `root=${scheme}:${server}:${path}${options ? `:${options}` : ''}`;
}

export function buildCmdline(input: CmdlineInput): string {
  const parts = [
    nfsRootArg(input.server, input.path, input.nfsVersion, input.nfsOptions ?? ''),
    'ro',
    'ip=dhcp',
    'rd.neednet=1',
    CONSOLES[input.console],
  ];
  if (!input.selinux) parts.push('selinux=0');
  for (const extra of input.extra ?? []) {
    const trimmed = extra?.trim();
    if (trimmed) parts.push(trimmed.replace(/\s+/g, ' '));
  }
  const line = parts.join(' ');
  const problem = checkKernelArgs(line);
  if (problem) throw new RenderError(`kernel command line ${problem}`, { hint: 'shorten the append arguments of the image, guest or client' });
  if (line.length > CMDLINE_MAX) throw new RenderError(`kernel command line is too long`);
  return line;
}
