/**
 * The one function that builds kernel command lines (docs/cmdline.md is the contract).
 * Pure: model values in, a string out; values that cannot be carried safely are refused.
 */
import { RenderError } from '../sys/errors.js';
import type { BootTarget, InventoryData } from '../inventory/schema.js';
import { exportPath } from '../inventory/paths.js';
import { requireEntry } from '../inventory/lookup.js';
import { CMDLINE_MAX, checkKernelArgs, parseRootSpec } from '../inventory/validate.js';
import { nfsClientPath } from '../inventory/exports.js';

/** The console a command line names: the machine kind it boots on. */
export type ConsoleKind = BootTarget;

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

/**
 * The command line of one node (a guest, or a PXE client) booting `imageName`: the one place that
 * gathers a command line's inputs from the model (site NFS server and options, the image's
 * export, NFS version and append, the node's root override and append).
 */
export function nodeCmdline(data: InventoryData, imageName: string, node: { append?: string | undefined; root?: string | undefined }, console: ConsoleKind): string {
  const site = data.site;
  const image = requireEntry(data, 'image', imageName);
  const override = node.root ? parseRootSpec(node.root) : undefined;
  return buildCmdline({
    server: override?.server ?? site.nfsServer,
    // NFSv4 with a pseudo-root (fsid=0) names paths relative to it (inventory/exports.ts).
    path: nfsClientPath(override?.path ?? exportPath(site, imageName, image), image.nfsVersion ?? site.nfsVersion, override && override.server !== site.nfsServer ? undefined : site.exports.pseudoRoot),
    nfsVersion: image.nfsVersion ?? site.nfsVersion,
    nfsOptions: image.nfsOptions ?? site.nfsOptions,
    console,
    selinux: site.selinux,
    extra: [image.append, node.append],
  });
}
