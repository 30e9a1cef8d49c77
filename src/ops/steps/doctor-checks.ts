/**
 * The checks of `xenroot doctor`: each a small function that looks at one part a boot needs and
 * returns one finding (`check`, PASS / WARN / FAIL / SKIP, what it saw, the fix). They only read:
 * files under `root` (a directory standing for /, as `sync --root` writes; default /), the
 * kernel's socket tables and TCP connects. Each also names the Debian packages its part needs,
 * for `doctor --fix`.
 */
import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InventoryData } from '../../inventory/schema.js';
import { exportPath, revisionStore, serveListen } from '../../inventory/paths.js';
import { parseUri } from '../../inventory/uri.js';
import { activeExports, dnsmasqReads, iscDhcpdReads } from '../../deploy/boot-server.js';
import { dhcpFile } from '../../deploy/plan.js';
import { EFI_LOADER_PATHS, findEfiLoader } from '../../deploy/tftp.js';
import { freeSpace } from '../../sys/free-space.js';
import { tcpReachable, udpBound } from '../../sys/sockets.js';
import { which } from '../../sys/which.js';

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

/** One line of the doctor's report. `fix` is what to do (absent on PASS and SKIP). */
export interface Finding {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface CheckContext {
  data: InventoryData;
  /** A directory standing for / for every file read (default /). */
  root: string;
  /** The NFS server's TCP port (2049 unless the server listens elsewhere). */
  nfsPort: number;
  /** Below this many free bytes where revisions go: FAIL; below 10x: WARN. */
  minFreeBytes: number;
}

/** A check: one part, one finding, and the Debian packages this part needs on the server. */
export interface Check {
  name: string;
  packages(ctx: CheckContext): string[];
  run(ctx: CheckContext): Promise<Finding>;
}

const pass = (check: string, detail: string): Finding => ({ check, status: 'PASS', detail });
const fail = (check: string, detail: string, fix: string): Finding => ({ check, status: 'FAIL', detail, fix });
const warn = (check: string, detail: string, fix: string): Finding => ({ check, status: 'WARN', detail, fix });
const skip = (check: string, detail: string): Finding => ({ check, status: 'SKIP', detail });

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}
async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

/** The NFS server answers TCP at site.nfsServer on the NFS port. */
const nfsServerCheck: Check = {
  name: 'nfs-server',
  packages: () => ['nfs-kernel-server'],
  async run({ data, nfsPort }) {
    const at = `${data.site.nfsServer}:${nfsPort}`;
    const r = await tcpReachable(data.site.nfsServer, nfsPort);
    if (r.ok) return pass(this.name, `NFS server answers at ${at}`);
    return fail(this.name, `nothing answers NFS at ${at} (${r.reason})`, 'start the NFS server: systemctl start nfs-server (Debian package nfs-kernel-server)');
  },
};

/** Every image's NFS path is in the kernel NFS server's active exports. */
const nfsExportsCheck: Check = {
  name: 'nfs-exports',
  packages: () => [],
  async run({ data, root }) {
    const wanted = Object.entries(data.images ?? {}).map(([name, image]) => exportPath(data.site, name, image));
    if (wanted.length === 0) return skip(this.name, 'no images in the inventory');
    const active = await activeExports(root);
    if (active === undefined) return warn(this.name, 'no kernel NFS export table (/var/lib/nfs/etab): the exports cannot be read here', 'with the kernel NFS server: xenroot sync, then exportfs -ra; with another server, check its exports by hand');
    const missing = wanted.filter((p) => !active.includes(p));
    if (missing.length === 0) return pass(this.name, `${wanted.length} image path${wanted.length > 1 ? 's' : ''} exported`);
    return fail(this.name, `not exported now: ${missing.join(', ')}`, 'xenroot sync (writes the exports), then exportfs -ra');
  },
};

/** The TFTP root exists and holds the BIOS loader; a TFTP server is bound to UDP 69. */
const tftpCheck: Check = {
  name: 'tftp',
  packages: ({ data }) => ['pxelinux', 'syslinux-common', ...(data.site.dhcp.server === 'dnsmasq' ? [] : ['tftpd-hpa'])],
  async run({ data, root }) {
    const dir = data.site.tftpRoot;
    if (!(await isDir(join(root, dir)))) return fail(this.name, `the TFTP root ${dir} does not exist`, 'xenroot sync (creates it and stages the boot files)');
    if (!(await isFile(join(root, dir, 'pxelinux.0')))) return fail(this.name, `${dir}/pxelinux.0 is missing: BIOS clients get no loader`, 'apt-get install pxelinux syslinux-common, then xenroot sync');
    if (!udpBound(69)) return fail(this.name, `the TFTP root ${dir} is in place but nothing is bound to UDP port 69`, data.site.dhcp.server === 'dnsmasq' ? 'enable dnsmasq\'s TFTP server (enable-tftp, tftp-root=' + dir + ') and restart dnsmasq' : `start tftpd-hpa with TFTP_DIRECTORY="${dir}" (systemctl start tftpd-hpa)`);
    return pass(this.name, `TFTP root ${dir} with pxelinux.0; a server is bound to UDP 69`);
  },
};

/** The DHCP server of the site's flavour is installed and its main configuration reads xenroot's file. */
const dhcpCheck: Check = {
  name: 'dhcp',
  packages: ({ data }) => (data.site.dhcp.server === 'dnsmasq' ? ['dnsmasq'] : data.site.dhcp.server === 'isc' ? ['isc-dhcp-server'] : []),
  async run({ data, root }) {
    const flavour = data.site.dhcp.server;
    const file = dhcpFile(data.site);
    if (flavour === 'none' || !file) return skip(this.name, 'site.dhcp.server is none: DHCP is not xenroot\'s');
    const program = flavour === 'dnsmasq' ? 'dnsmasq' : 'dhcpd';
    const pkg = flavour === 'dnsmasq' ? 'dnsmasq' : 'isc-dhcp-server';
    if (root === '/' && !which(program)) return fail(this.name, `${program} is not installed (site.dhcp.server: ${flavour})`, `apt-get install ${pkg} (or xenroot doctor --fix --yes)`);
    const r = flavour === 'dnsmasq' ? await dnsmasqReads(file, root) : await iscDhcpdReads(file, root);
    if (!r.included) {
      const line = flavour === 'dnsmasq' ? `conf-file=${file}` : `include "${file}";`;
      return fail(this.name, `${flavour}'s configuration (${r.config.join(', ')}) does not read xenroot's file ${file}`, `add the line ${line} to ${r.config[0]} and restart ${flavour === 'dnsmasq' ? 'dnsmasq' : 'isc-dhcp-server'}`);
    }
    if (!(await isFile(join(root, file)))) return warn(this.name, `${flavour} reads ${file} (${r.how}), but the file is not written yet`, 'xenroot sync');
    return pass(this.name, `${flavour} reads ${file} (${r.how})`);
  },
};

/** The UEFI loader of site.pxe.efiLoader is in the TFTP root (and its source on this host). */
const efiLoaderCheck: Check = {
  name: 'efi-loader',
  packages: ({ data }) => (data.site.pxe.efiLoader === 'none' ? [] : [...new Set(EFI_LOADER_PATHS[data.site.pxe.efiLoader].map((l) => l.pkg))]),
  async run({ data, root }) {
    const loader = data.site.pxe.efiLoader;
    if (loader === 'none') return skip(this.name, 'site.pxe.efiLoader is none: no UEFI clients');
    const dir = data.site.tftpRoot;
    const missing = [];
    for (const want of EFI_LOADER_PATHS[loader]) if (!(await isFile(join(root, dir, want.name)))) missing.push(want);
    if (missing.length === 0) return pass(this.name, `${loader}: ${EFI_LOADER_PATHS[loader].map((l) => l.name).join(', ')} in ${dir}`);
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    const sourcesHere = await findEfiLoader(loader).then(
      () => true,
      () => false,
    );
    return fail(
      this.name,
      `${missing.map((m) => m.name).join(', ')} missing from ${dir}: UEFI clients (client-arch 7, 9) get no loader`,
      sourcesHere ? 'xenroot sync (stages the loader into the TFTP root)' : `apt-get install ${pkgs.join(' ')} (or xenroot doctor --fix --yes), then xenroot sync`,
    );
  },
};

/** `xenroot serve` answers TCP where the site says it listens. */
const serveCheck: Check = {
  name: 'serve',
  packages: () => [],
  async run({ data }) {
    if (!data.site.serve) return skip(this.name, 'site.serve is absent: no boot service');
    const listen = serveListen(data.site);
    const i = listen.lastIndexOf(':');
    const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
    const r = await tcpReachable(host, Number(listen.slice(i + 1)));
    if (r.ok) return pass(this.name, `the boot service answers at ${listen}`);
    return fail(this.name, `nothing answers at ${listen} (${r.reason})`, 'start it: xenroot serve (or install its unit: docs/serve.md)');
  },
};

/** The site's guest bridge exists on this host (when there are guests). */
const bridgeCheck: Check = {
  name: 'bridge',
  packages: () => [],
  async run({ data, root }) {
    const br = data.site.bridge;
    const guests = Object.keys(data.guests ?? {}).length;
    const present = await isDir(join(root, '/sys/class/net', br, 'bridge'));
    if (present) return pass(this.name, `bridge ${br} exists`);
    if (guests === 0) return skip(this.name, `bridge ${br} does not exist here, and no guest needs it`);
    return fail(this.name, `bridge ${br} (site.bridge) does not exist on this host; ${guests} guest${guests > 1 ? 's' : ''} attach to it`, `create it: ip link add ${br} type bridge && ip link set ${br} up (or in /etc/network/interfaces)`);
  },
};

/** Each hypervisor host answers on its URI's transport (a TCP connect; libvirtd's socket for a local URI). */
const hostsCheck: Check = {
  name: 'hosts',
  packages: () => [],
  async run({ data, root }) {
    const uris = new Map<string, string>();
    if (Object.keys(data.guests ?? {}).length) uris.set('site', data.site.connect);
    for (const [name, h] of Object.entries(data.hosts ?? {})) uris.set(name, h.connect);
    if (uris.size === 0) return skip(this.name, 'no guests and no hosts in the inventory');
    const bad: string[] = [];
    for (const [name, uri] of uris) {
      const p = parseUri(uri);
      if (typeof p === 'string') {
        bad.push(`${name} (${uri}: ${p})`);
        continue;
      }
      if (p.scheme === 'xl') {
        if (!which('xl')) bad.push(`${name} (${uri}: the xl toolstack is not installed)`);
        continue;
      }
      if (!p.host) {
        // The monolithic libvirtd's socket, or the driver's own daemon (virtxend, virtqemud).
        const sockets = ['/run/libvirt/libvirt-sock', `/run/libvirt/virt${p.scheme === 'xen' ? 'xen' : p.scheme}d-sock`];
        const found = await Promise.all(sockets.map((s) => stat(join(root, s)).then((st) => st.isSocket(), () => false)));
        if (!found.includes(true)) bad.push(`${name} (${uri}: no local libvirt socket: ${sockets.join(', ')})`);
        continue;
      }
      const port = p.port ?? (p.transport === 'tcp' ? 16509 : p.transport === 'tls' || p.transport === undefined ? 16514 : 22);
      const r = await tcpReachable(p.host.replace(/^\[|\]$/g, ''), port);
      if (!r.ok) bad.push(`${name} (${uri}: ${p.host}:${port} ${r.reason})`);
    }
    if (bad.length === 0) return pass(this.name, `${uris.size} hypervisor connection${uris.size > 1 ? 's' : ''} answer`);
    return fail(this.name, `not reachable: ${bad.join('; ')}`, 'start libvirtd on that host (systemctl start libvirtd), or correct the URI (xenroot host set)');
  },
};

/** Free space where published revisions go. */
const freeSpaceCheck: Check = {
  name: 'free-space',
  packages: () => [],
  async run({ data, root, minFreeBytes }) {
    const dir = join(root, dirname(revisionStore(data.site, 'IMAGE')));
    const { at, bytes } = await freeSpace(dir);
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    const detail = `${gib(bytes)} free at ${at} (revisions go to ${dir})`;
    if (bytes < minFreeBytes) return fail(this.name, `${detail}: below ${gib(minFreeBytes)}`, 'free space (xenroot image prune removes revisions no node needs) or move site.revisions.dir');
    if (bytes < minFreeBytes * 10) return warn(this.name, `${detail}: below ${gib(minFreeBytes * 10)}`, 'xenroot image prune, or more space before the next publish');
    return pass(this.name, detail);
  },
};

/** Every check, in the order of a boot (what a client meets first comes first). */
export const CHECKS: readonly Check[] = [dhcpCheck, tftpCheck, efiLoaderCheck, serveCheck, nfsServerCheck, nfsExportsCheck, freeSpaceCheck, bridgeCheck, hostsCheck];
