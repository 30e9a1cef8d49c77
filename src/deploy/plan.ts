/**
 * The sync planner: every file xenroot wants on disk, rendered from the inventory. Pure: the few
 * facts it needs from the system (which images are staged under which names, whether
 * /etc/exports.d exists, whether a DHCP file is shared with the admin) come in as inputs, so a dry
 * run is the same plan without the apply.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { InventoryData } from '../inventory/schema.js';
import { exportPath, guestFiles } from '../inventory/paths.js';
import { nodeCmdline } from '../render/cmdline.js';
import { renderGuest } from '../render/guest-files.js';
import { pxelinuxMacName, renderPxelinux, type BootEntry } from '../render/pxelinux.js';
import { IPXE_DIR, ipxeMacName, renderIpxeBoot, renderIpxeEntry } from '../render/ipxe.js';
import { renderDnsmasq, type DhcpHost, type DhcpInput } from '../render/dnsmasq.js';
import { renderIscDhcp } from '../render/isc-dhcp.js';
import { renderExportsBlock, renderExportsFile, type ExportsInput } from '../render/exports.js';
import { GRUB_DIR, grubMacName, renderGrubDispatcher, renderGrubEntry } from '../render/grub.js';
import { identityTftpPath } from '../render/identity.js';
import { guestRamdiskPath, nodeAddress, nodeHostname } from '../inventory/identity.js';

export type FileGroup = 'tftp' | 'dhcp' | 'exports' | 'guest';

/**
 * Who a file is for: `guest:NAME`, `client:NAME`, `image:NAME`, or `site` (shared files). A
 * command that regenerates the files of a few nodes applies only those owners' files.
 */
export type FileOwner = `guest:${string}` | `client:${string}` | `image:${string}` | 'site';

interface FileBase {
  group: FileGroup;
  owner: FileOwner;
  /** The system path (before any --root prefix). */
  path: string;
}

/** A desired file. */
export type DesiredFile =
  /** A whole file xenroot owns. */
  | (FileBase & { kind: 'text'; content: string })
  /** A file copied from `source`; `versioned`: its name carries the content hash. */
  | (FileBase & { kind: 'copy'; source: string; size: number; versioned: boolean })
  /** The xenroot managed block inside a file the admin owns too. */
  | (FileBase & { kind: 'block'; body: string })
  /**
   * Bytes made from parts at apply time (a node's identity piece, a guest's ramdisk): `key` names
   * the inputs, so a file whose manifest entry has the same key and stat is not rebuilt; `mode`
   * (default 0644) and `owner` are applied exactly.
   */
  | (FileBase & { kind: 'bytes'; key: string; parts: BytePart[]; mode?: number; fileOwner?: { uid: number; gid: number } });

/** A part of a `bytes` file: a file's content, data made on demand, NULs, or NULs up to a multiple of `align` bytes. */
export type BytePart = { source: string } | { data: () => Uint8Array } | { zeros: number } | { align: number };

/** Kernel and initrd of an image as staged in the TFTP tree (relative paths). */
export interface StagedImage {
  kernelSource: string;
  kernelSize: number;
  initrdSource: string;
  initrdSize: number;
  /** images/IMAGE/vmlinuz-KVER-HASH */
  kernel: string;
  /** images/IMAGE/initrd-KVER-pxe-HASH.img */
  initrd: string;
}

export interface PlanInput {
  data: InventoryData;
  /** The inventory file (guest files without a configDir live beside it). */
  inventoryFile: string;
  /** Images staged for PXE (only those with a kernel and a pxe initrd). */
  staged: Map<string, StagedImage>;
  /** pxelinux.0 and ldlinux.c32 on this host. */
  syslinux: { pxelinux0: string; pxelinux0Size: number; ldlinux: string; ldlinuxSize: number };
  /** The files of the site's UEFI loader (deploy/tftp.ts findEfiLoader); absent: none. */
  efi?: { name: string; source: string; size: number }[];
  /** Does site.exports.dir exist (then exports go to DIR/xenroot.exports)? */
  exportsDirExists: boolean;
  /** Is the DHCP file shared with the admin (then a managed block, else a whole file)? */
  dhcpShared: boolean;
  /** Per-node identity pieces by node (`client:NAME`, `guest:NAME`; ops/identity.ts); absent: none. */
  identities?: Map<string, IdentityArchive>;
  /** The image initrds each guest's ramdisk can be made from, by guest name (ops/identity.ts). */
  ramdisks?: Map<string, GuestRamdiskInput[]>;
  /** Owner of the identity pieces in the TFTP tree (site.pxe.tftpUser); absent: root. */
  tftpOwner?: { uid: number; gid: number };
}

/** A node's identity piece: `key` names its inputs, `build` makes the gzip'd cpio (render/identity.ts). */
export interface IdentityArchive {
  key: string;
  build: () => Uint8Array;
}

/** One image initrd a guest's ramdisk is made from: its flavour, path and stat. */
export interface GuestRamdiskInput {
  target: 'xen' | 'qemu';
  base: string;
  baseStamp: string;
}

export interface Plan {
  files: DesiredFile[];
  warnings: string[];
}

export const EXPORTS_DROPIN = 'xenroot.exports';

/** The DHCP file of the site: site.dhcp.file, else the server's usual place. */
export function dhcpFile(site: InventoryData['site']): string | undefined {
  if (site.dhcp.server === 'none') return undefined;
  return site.dhcp.file ?? (site.dhcp.server === 'dnsmasq' ? '/etc/dnsmasq.d/xenroot.conf' : '/etc/dhcp/dhcpd.conf');
}

/** The boot entry of an image for one client (or the default entry with `client` undefined). */
export function bootEntry(data: InventoryData, imageName: string, staged: StagedImage, client?: { append?: string; root?: string }): BootEntry {
  return { label: imageName, kernel: staged.kernel, initrd: staged.initrd, cmdline: nodeCmdline(data, imageName, client ?? {}, 'pxe') };
}

/**
 * The ramdisks of some guests (issue 13): for each flavour whose image initrd exists, the guest's
 * own ramdisk beside it (inventory/identity.ts guestRamdiskPath) = 4 NULs + the image's initrd +
 * NULs up to a multiple of 4 bytes + the guest's identity piece. A Xen PV guest boots one ramdisk;
 * the kernel unpacks every concatenated cpio (NULs between members are allowed, an uncompressed
 * member must start 4-byte aligned; Documentation/driver-api/early-userspace/buffer-format.rst).
 * The leading NULs keep Xen <= 4.19's libxenguest from un-gzipping the ramdisk in dom0, which
 * keeps only the first gzip member (xc_dom_build_module; removed in Xen 4.20). Mode 0600: the piece
 * holds the guest's SSH host keys.
 */
export function planGuestRamdisks(names: string[], ramdisks: Map<string, GuestRamdiskInput[]> | undefined, identities: Map<string, IdentityArchive> | undefined): DesiredFile[] {
  const files: DesiredFile[] = [];
  for (const name of names) {
    const id = identities?.get(`guest:${name}`);
    if (!id) continue;
    for (const r of ramdisks?.get(name) ?? []) {
      files.push({
        kind: 'bytes',
        group: 'guest',
        owner: `guest:${name}`,
        path: guestRamdiskPath(r.base, name),
        key: createHash('sha1').update(`${r.base}\0${r.baseStamp}\0${id.key}`).digest('hex'),
        parts: [{ zeros: 4 }, { source: r.base }, { align: 4 }, { data: id.build }],
        mode: 0o600,
      });
    }
  }
  return files;
}

/**
 * The generated files of some guests (NAME.cfg for xl, NAME.xml for libvirt), at each guest's
 * one recorded home (see guestFiles). Pure; render errors are thrown before anything is written.
 */
export function planGuestFiles(data: InventoryData, inventoryFile: string, names: string[]): DesiredFile[] {
  const files: DesiredFile[] = [];
  for (const name of names) {
    const g = guestFiles(data, inventoryFile, name);
    const owner: FileOwner = `guest:${name}`;
    files.push({ kind: 'text', group: 'guest', owner, path: g.cfg, content: renderGuest(data, name, 'xl') });
    files.push({ kind: 'text', group: 'guest', owner, path: g.xml, content: renderGuest(data, name, 'libvirt') });
  }
  return files;
}

export function planSync(input: PlanInput): Plan {
  const { data } = input;
  const site = data.site;
  const files: DesiredFile[] = [];
  const warnings: string[] = [];
  const tftpBase = site.tftpRoot.replace(/\/+$/, '');
  const tftp = (rel: string) => `${tftpBase}/${rel}`;

  // Guests: NAME.cfg (xl) and NAME.xml (libvirt).
  files.push(...planGuestFiles(data, input.inventoryFile, Object.keys(data.guests).sort()));
  files.push(...planGuestRamdisks(Object.keys(data.guests).sort(), input.ramdisks, input.identities));

  // TFTP tree.
  const clients = Object.entries(data.clients);
  const hasPxe = clients.length > 0 || input.staged.size > 0;
  if (hasPxe) {
    const s = input.syslinux;
    files.push({ kind: 'copy', group: 'tftp', owner: 'site', path: tftp('pxelinux.0'), source: s.pxelinux0, size: s.pxelinux0Size, versioned: false });
    files.push({ kind: 'copy', group: 'tftp', owner: 'site', path: tftp('ldlinux.c32'), source: s.ldlinux, size: s.ldlinuxSize, versioned: false });
    // UEFI clients: the site's EFI loader beside pxelinux.0 (syslinux.efi shares pxelinux.cfg/).
    for (const l of input.efi ?? []) files.push({ kind: 'copy', group: 'tftp', owner: 'site', path: tftp(l.name), source: l.source, size: l.size, versioned: false });
    for (const [name, st] of [...input.staged.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      files.push({ kind: 'copy', group: 'tftp', owner: `image:${name}`, path: tftp(st.kernel), source: st.kernelSource, size: st.kernelSize, versioned: true });
      files.push({ kind: 'copy', group: 'tftp', owner: `image:${name}`, path: tftp(st.initrd), source: st.initrdSource, size: st.initrdSize, versioned: true });
    }
    const defaults = [...input.staged.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, st]) => bootEntry(data, name, st));
    const httpBase = site.pxe.httpBase;
    files.push({
      kind: 'text',
      group: 'tftp',
      owner: 'site',
      path: tftp('pxelinux.cfg/default'),
      content: renderPxelinux({ entries: defaults, timeout: site.pxe.timeout, comment: 'machines without a file of their own' }),
    });
    files.push({ kind: 'text', group: 'tftp', owner: 'site', path: tftp(`${IPXE_DIR}/boot.ipxe`), content: renderIpxeBoot(httpBase ? { httpBase } : {}) });
    files.push({
      kind: 'text',
      group: 'tftp',
      owner: 'site',
      path: tftp(`${IPXE_DIR}/default.ipxe`),
      content: renderIpxeEntry(defaults[0], { ...(httpBase ? { httpBase } : {}), comment: 'machines without a script of their own' }),
    });
    const grub = site.pxe.efiLoader === 'grub';
    if (grub) {
      files.push({ kind: 'text', group: 'tftp', owner: 'site', path: tftp(`${GRUB_DIR}/grub.cfg`), content: renderGrubDispatcher() });
      files.push({ kind: 'text', group: 'tftp', owner: 'site', path: tftp(`${GRUB_DIR}/grub.cfg-default`), content: renderGrubEntry(defaults[0], { comment: 'machines without a config of their own' }) });
    }
    // Most clients share their image's entry: build each distinct command line once.
    const entries = new Map<string, BootEntry>();
    for (const [name, c] of clients) {
      const st = input.staged.get(c.image);
      if (!st) {
        warnings.push(`client ${name}: image ${c.image} has no staged kernel and pxe initrd; it gets no boot files`);
        continue;
      }
      const key = `${c.image}\n${c.append ?? ''}\n${c.root ?? ''}`;
      let shared = entries.get(key);
      if (!shared) entries.set(key, (shared = bootEntry(data, c.image, st, c)));
      const comment = `client ${name} (${c.mac}), image ${c.image}`;
      const owner: FileOwner = `client:${name}`;
      // The client's identity piece, loaded after the image's initrd (mode 0600: it holds host keys).
      const id = input.identities?.get(owner);
      const entry: BootEntry = id ? { ...shared, nodeInitrd: identityTftpPath(name) } : shared;
      if (id)
        files.push({ kind: 'bytes', group: 'tftp', owner, path: tftp(identityTftpPath(name)), key: id.key, parts: [{ data: id.build }], mode: 0o600, ...(input.tftpOwner ? { fileOwner: input.tftpOwner } : {}) });
      files.push({ kind: 'text', group: 'tftp', owner, path: tftp(`pxelinux.cfg/${pxelinuxMacName(c.mac)}`), content: renderPxelinux({ entries: [entry], comment }) });
      files.push({
        kind: 'text',
        group: 'tftp',
        owner,
        path: tftp(`${IPXE_DIR}/${ipxeMacName(c.mac)}`),
        content: renderIpxeEntry(entry, { ...(httpBase ? { httpBase } : {}), comment, mac: c.mac }),
      });
      if (grub) files.push({ kind: 'text', group: 'tftp', owner, path: tftp(`${GRUB_DIR}/${grubMacName(c.mac)}`), content: renderGrubEntry(entry, { mac: c.mac, comment }) });
    }
  }

  // DHCP reservations.
  const dfile = dhcpFile(site);
  if (dfile) {
    // Each reservation hands out the node's host name and, where it has one, its static address.
    const identity = (name: string, n: { hostname?: string | undefined; address?: string | undefined }) => ({ hostname: nodeHostname(name, n).split('.')[0], address: nodeAddress(site, n)?.ip });
    const hosts: DhcpHost[] = [
      ...clients.map(([name, c]) => ({ kind: 'client' as const, name, mac: c.mac, ...identity(name, c) })),
      ...Object.entries(data.guests)
        .filter(([, g]) => g.mac)
        .map(([name, g]) => ({ kind: 'guest' as const, name, mac: g.mac as string, ...identity(name, g) })),
    ];
    const dhcp: DhcpInput = { hosts, proxy: site.dhcp.proxy, bootServer: site.nfsServer, efiLoader: site.pxe.efiLoader };
    if (site.dhcp.subnet) dhcp.subnet = site.dhcp.subnet;
    if (site.pxe.httpBase) dhcp.httpBase = site.pxe.httpBase;
    const text = site.dhcp.server === 'dnsmasq' ? renderDnsmasq(dhcp) : renderIscDhcp(dhcp);
    if (input.dhcpShared) files.push({ kind: 'block', group: 'dhcp', owner: 'site', path: dfile, body: text.replace(/\n+$/, '') });
    else files.push({ kind: 'text', group: 'dhcp', owner: 'site', path: dfile, content: text });
  }

  // NFS exports.
  const exportsInput: ExportsInput = {
    exports: Object.entries(data.images).map(([name, img]) => ({ image: name, path: exportPath(site, name, img), options: img.exportOptions })),
    allow: site.allow,
    options: site.exports.options,
    insecure: site.exports.insecure,
    pseudoRoot: site.exports.pseudoRoot,
  };
  if (site.allow.length === 0 && Object.keys(data.images).length > 0) warnings.push('site.allow is empty: no image is exported; list the client networks in site.allow');
  if (input.exportsDirExists) files.push({ kind: 'text', group: 'exports', owner: 'site', path: join(site.exports.dir, EXPORTS_DROPIN), content: renderExportsFile(exportsInput) });
  else files.push({ kind: 'block', group: 'exports', owner: 'site', path: site.exports.file, body: renderExportsBlock(exportsInput) });

  return { files, warnings };
}
