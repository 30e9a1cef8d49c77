/** `xenroot init`: a new inventory with the site settings and explanatory comments. */
import { networkInterfaces } from 'node:os';
import { UsageError } from '../errors.js';
import { createInventory, type Inventory } from './store.js';
import { PATH_RULE, checkAbsPath, checkHost, checkNetwork } from './validate.js';

export interface InitOptions {
  nfsServer?: string;
  exportRoot?: string;
  tftpRoot?: string;
  bootDir?: string;
  allow?: string[];
  bridge?: string;
  connect?: string;
}

/** The first non-internal IPv4 address of this host: the usual NFS server of a small site. */
export function defaultNfsServer(): string | undefined {
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function yamlList(items: string[]): string {
  return `[ ${items.map((i) => JSON.stringify(i)).join(', ')} ]`;
}

/** The text of a fresh inventory. Pure; values are validated by the caller. */
export function initialInventoryText(o: Required<Pick<InitOptions, 'nfsServer' | 'allow'>> & InitOptions): string {
  const opt = (key: string, value: string | undefined, comment: string) => (value === undefined ? `  # ${key}: ${comment}\n` : `  ${key}: ${JSON.stringify(value)}\n`);
  return (
    `# xenroot inventory: the one source of truth for images, Xen guests and PXE clients.\n` +
    `# Edit it by hand or with xenroot commands; xenroot keeps your comments when it writes.\n` +
    `# Every generated file (guest .cfg/.xml, TFTP tree, DHCP, exports) is derived from it.\n` +
    `site:\n` +
    `  # The address guests and PXE clients mount their root filesystem from.\n` +
    `  nfsServer: ${JSON.stringify(o.nfsServer)}\n` +
    `  # Client networks allowed to mount the exports (never "*" unless you write it).\n` +
    `  allow: ${yamlList(o.allow)}\n` +
    opt('exportRoot', o.exportRoot, '/srv/xenroot') +
    opt('tftpRoot', o.tftpRoot, '/tftpboot/linux-install') +
    opt('bootDir', o.bootDir, '/var/lib/xenroot/boot (kernels and initrds on the Xen host)') +
    opt('bridge', o.bridge, 'xenbr0') +
    opt('connect', o.connect, 'xen:///system (hypervisor URI)') +
    `images:\n` +
    `guests:\n` +
    `clients:\n`
  );
}

export async function initInventory(file: string, opts: InitOptions): Promise<Inventory> {
  const nfsServer = opts.nfsServer ?? defaultNfsServer();
  if (!nfsServer) throw new UsageError('cannot guess the NFS server address: this host has no IPv4 address', { hint: 'give it with --nfs-server ADDR' });
  const hostProblem = checkHost(nfsServer);
  if (hostProblem) throw new UsageError(`--nfs-server "${nfsServer}" ${hostProblem}`);
  for (const [flag, v] of [['--export-root', opts.exportRoot], ['--tftp-root', opts.tftpRoot], ['--boot-dir', opts.bootDir]] as const)
    if (v !== undefined && checkAbsPath(v)) throw new UsageError(`${flag} "${v}" is not valid: must be ${PATH_RULE}`);
  let allow = opts.allow;
  if (!allow || allow.length === 0) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(nfsServer);
    if (!m) throw new UsageError('cannot derive the client network from a host name', { hint: 'give it with --allow CIDR' });
    allow = [`${m[1]}.${m[2]}.${m[3]}.0/24`];
  }
  for (const a of allow) {
    const p = checkNetwork(a);
    if (p) throw new UsageError(`--allow "${a}" ${p}`);
  }
  return createInventory(file, initialInventoryText({ ...opts, nfsServer, allow }));
}
