/** The text of a new inventory: the site settings with explanatory comments. Pure. */

export interface InitOptions {
  nfsServer?: string;
  exportRoot?: string;
  tftpRoot?: string;
  bootDir?: string;
  allow?: string[];
  bridge?: string;
  connect?: string;
  /** A group that may read the inventory (mode 0640, that group); default: none (0600). */
  group?: string;
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
