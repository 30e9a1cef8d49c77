/**
 * The sync planner: every file xenroot wants on disk, rendered from the inventory. Pure: the few
 * facts it needs from the system (which images are staged under which names, whether
 * /etc/exports.d exists, whether a DHCP file is shared with the admin) come in as inputs, so a dry
 * run is the same plan without the apply.
 */
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import type { InventoryData } from '../inventory/schema.js';
import { bootHttpBase, exportPath, guestFiles, serveListen } from '../inventory/paths.js';
import { effectiveClients } from '../inventory/effective.js';
import { nodeCmdline } from '../render/cmdline.js';
import { renderGuest } from '../render/guest-files.js';
import type { HostPaths } from '../render/guest-spec.js';
import { pxelinuxMacName, renderPxelinux, type BootEntry } from '../render/pxelinux.js';
import { IPXE_DIR, renderIpxeBoot, renderIpxeEntry } from '../render/ipxe.js';
import { renderDnsmasq, type DhcpHost, type DhcpInput } from '../render/dnsmasq.js';
import { renderIscDhcp } from '../render/isc-dhcp.js';
import { renderKeaDhcp } from '../render/kea-dhcp.js';
import { renderExportsBlock, renderExportsFile, type ExportsInput } from '../render/exports.js';
import { isRevisionEntry } from '../inventory/revisions.js';
import { nodeAttempt, type NodeFailure } from './node-faults.js';
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
  /** A symbolic link to `target` (relative): the per-node switch layout, see nodeSwitch. */
  | (FileBase & { kind: 'link'; target: string })

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
  /** Guests on inventory hosts: where their boot files are on that host. */
  guestHostPaths?: Map<string, HostPaths>;
  /**
   * Plan only the files of these owners (`guest:NAME`, `client:NAME`) besides the site's and the
   * images' (an incremental sync after a change of a few nodes); absent: every owner.
   */
  only?: ReadonlySet<string>;
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
  /** Nodes whose files could not be rendered: left out of `files`, the others planned. */
  failures: NodeFailure[];
}

export const EXPORTS_DROPIN = 'xenroot.exports';

/** Where each DHCP flavour's file goes unless site.dhcp.file says otherwise (Kea: a file the admin's kea-dhcp4.conf includes). */
const DEFAULT_DHCP_FILES = { dnsmasq: '/etc/dnsmasq.d/xenroot.conf', isc: '/etc/dhcp/dhcpd.conf', kea: '/etc/kea/xenroot-dhcp4.json' } as const;

/** The DHCP file of the site: site.dhcp.file, else the server's usual place. */
export function dhcpFile(site: InventoryData['site']): string | undefined {
  if (site.dhcp.server === 'none') return undefined;
  return site.dhcp.file ?? DEFAULT_DHCP_FILES[site.dhcp.server];
}

/** The boot entry of an image for one client (or the default entry with `client` undefined). */
export function bootEntry(data: InventoryData, imageName: string, staged: StagedImage, client?: { append?: string; root?: string }): BootEntry {
  // A revision entry (IMAGE@REV) is labelled IMAGE-rREV: pxelinux labels are kept to [A-Za-z0-9_.-].
  return { label: imageName.replace('@', '-r'), kernel: staged.kernel, initrd: staged.initrd, cmdline: nodeCmdline(data, imageName, client ?? {}, 'pxe') };
}

/**
 * The ramdisks of some guests: for each flavour whose image initrd exists, the guest's
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
export function planGuestFiles(data: InventoryData, inventoryFile: string, names: string[], hostPaths?: Map<string, HostPaths>, failures?: NodeFailure[]): DesiredFile[] {
  const files: DesiredFile[] = [];
  for (const name of names) {
    const g = guestFiles(data, inventoryFile, name);
    const owner: FileOwner = `guest:${name}`;
    // A guest on an inventory host names its boot files where they are on that host.
    const host = hostPaths?.get(name);
    // With `failures`, a guest whose files cannot be rendered is reported there and left out.
    const rendered = nodeAttempt(failures, 'guest', name, g.cfg, () => [renderGuest(data, name, 'xl', host), renderGuest(data, name, 'libvirt', host)] as const);
    if (!rendered) continue;
    const cfg = { name: `${name}.cfg`, content: rendered[0] };
    const xml = { name: `${name}.xml`, content: rendered[1] };
    files.push(...nodeSwitch({ base: g.dir, switchDir: GUEST_SWITCH_DIR, key: name, entryDir: GUEST_SWITCH_DIR, entryName: `${name}.`, group: 'guest', owner, entryOwner: owner, files: [{ ...cfg, path: g.cfg }, { ...xml, path: g.xml }] }));
  }
  return files;
}

export function planSync(input: PlanInput): Plan {
  const { data } = input;
  const site = data.site;
  const files: DesiredFile[] = [];
  const warnings: string[] = [];
  const failures: NodeFailure[] = [];
  const tftpBase = site.tftpRoot.replace(/\/+$/, '');
  const tftp = (rel: string) => `${tftpBase}/${rel}`;

  const wanted = (owner: string): boolean => !input.only || input.only.has(owner);
  // Guests: NAME.cfg (xl) and NAME.xml (libvirt).
  const guestNames = Object.keys(data.guests).sort().filter((n) => wanted(`guest:${n}`));
  files.push(...planGuestFiles(data, input.inventoryFile, guestNames, input.guestHostPaths, failures));
  files.push(...planGuestRamdisks(guestNames, input.ramdisks, input.identities));

  // TFTP tree.
  // Each client as it boots: its own values, else its group's (inventory/effective.ts).
  const clients = effectiveClients(data);
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
    // Machines without a file of their own get the images, never a revision (IMAGE@REV): those boot only the nodes rolled out to them.
    const defaults = [...input.staged.entries()]
      .filter(([name]) => !isRevisionEntry(name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, st]) => bootEntry(data, name, st));
    // HTTP from site.pxe.httpBase, or from the boot service (xenroot serve) when the site runs it:
    // then the identity pieces stay on TFTP (the service never sends them).
    const httpBase = bootHttpBase(site);
    const pieceOverTftp = site.serve !== undefined;
    files.push({
      kind: 'text',
      group: 'tftp',
      owner: 'site',
      path: tftp('pxelinux.cfg/default'),
      content: renderPxelinux({ entries: defaults, timeout: site.pxe.timeout, comment: 'machines without a file of their own' }),
    });
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
    const entryTexts = new Map<BootEntry, { files: { name: string; content: string }[]; set: string }>();
    const plannedSets = new Set<string>();
    for (const [name, c] of clients) {
      const st = input.staged.get(c.image);
      if (!st) {
        warnings.push(`client ${name}: image ${c.image} has no staged kernel and pxe initrd; it gets no boot files`);
        continue;
      }
      const key = `${c.image}\n${c.append ?? ''}\n${c.root ?? ''}`;
      const owner: FileOwner = `client:${name}`;
      // The client's identity piece, loaded after the image's initrd: its boot entry is
      // its own (the set's hash covers the piece's path), owned by the client. With pieces in the
      // plan, an incremental plan skips every other client whole: none of them shares a set.
      const id = input.identities?.get(owner);
      if (input.identities && !wanted(owner)) continue;
      // A client whose entry cannot be rendered is reported and left out; the others go on.
      const failedAt = tftp(`pxelinux.cfg/${pxelinuxMacName(c.mac)}`);
      let shared = entries.get(key);
      if (!shared) {
        const made = nodeAttempt(failures, 'client', name, failedAt, () => bootEntry(data, c.image, st, c));
        if (!made) continue;
        entries.set(key, (shared = made));
      }
      const entry: BootEntry = id ? { ...shared, nodeInitrd: identityTftpPath(name) } : shared;
      // One boot entry shared by every client with the same command line and no piece (see nodeSwitch).
      let texts = id ? undefined : entryTexts.get(entry);
      if (!texts) {
        // A client's own set names its MAC literally (BOOTIF of iPXE and GRUB); a shared one lets the
        // loader say which NIC booted (${netX/mac}, $net_default_mac).
        const comment = id ? `client ${name} (${c.mac}), image ${c.image}` : `image ${c.image}: the entry of every client booting it with this command line`;
        const mac = id ? { mac: c.mac } : {};
        const made = nodeAttempt(failures, 'client', name, failedAt, () => {
          const set = [
            { name: 'pxelinux', content: renderPxelinux({ entries: [entry], comment }) },
            { name: 'ipxe', content: renderIpxeEntry(entry, { ...(httpBase ? { httpBase } : {}), comment, ...mac, pieceOverTftp }) },
            ...(grub ? [{ name: 'grub', content: renderGrubEntry(entry, { comment, ...mac }) }] : []),
          ];
          return { files: set, set: setName('', set) };
        });
        if (!made) continue;
        texts = made;
        if (!id) entryTexts.set(entry, texts);
      }
      if (id)
        files.push({ kind: 'bytes', group: 'tftp', owner, path: tftp(identityTftpPath(name)), key: id.key, parts: [{ data: id.build }], mode: 0o600, ...(input.tftpOwner ? { fileOwner: input.tftpOwner } : {}) });
      // iPXE's boot.ipxe chains straight into the node's switch (NODES/MAC/ipxe); pxelinux (and
      // syslinux.efi) and GRUB find a machine's own entry only as a file of its own,
      // pxelinux.cfg/01-MAC and grub/grub.cfg-01-MAC: fixed links into it.
      const dashed = c.mac.replaceAll(':', '-');
      const switched = nodeSwitch({
        base: tftpBase,
        switchDir: CLIENT_SWITCH_DIR,
        key: dashed,
        entryDir: `${CLIENT_SWITCH_DIR}/entries`,
        entryName: '',
        group: 'tftp',
        owner,
        entryOwner: id ? owner : `image:${c.image}`,
        planned: plannedSets,
        set: texts.set,
        files: texts.files.map((f) => ({
          ...f,
          ...(f.name === 'pxelinux' ? { path: tftp(`pxelinux.cfg/${pxelinuxMacName(c.mac)}`) } : f.name === 'grub' ? { path: tftp(`${GRUB_DIR}/${grubMacName(c.mac)}`) } : {}),
        })),
      });
      // An incremental plan leaves other clients' links as they are, but plans every shared set.
      files.push(...(wanted(owner) ? switched : switched.filter((f) => f.kind !== 'link')));
    }
    // iPXE's entry script: the booting NIC's node switch (its own entry), else the default one.
    files.push({ kind: 'text', group: 'tftp', owner: 'site', path: tftp(`${IPXE_DIR}/boot.ipxe`), content: renderIpxeBoot({ ...(httpBase ? { httpBase } : {}), nodesDir: CLIENT_SWITCH_DIR }) });
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
    const dhcpHttpBase = bootHttpBase(site);
    if (dhcpHttpBase) dhcp.httpBase = dhcpHttpBase;
    const text =
      site.dhcp.server === 'dnsmasq' ? renderDnsmasq(dhcp) : site.dhcp.server === 'kea' ? renderKeaDhcp({ ...dhcp, ...(site.serve ? { httpBoot: `http://${serveListen(site)}/boot` } : {}) }) : renderIscDhcp(dhcp);
    // Kea's part is JSON members, never a block inside the admin's own config: an admin's file at its path is left alone.
    if (input.dhcpShared && site.dhcp.server === 'kea') warnings.push(`${dfile} is not a file xenroot wrote: Kea's reservations are not written; point site.dhcp.file at a file of its own and include it in kea-dhcp4.conf (docs/netboot.md)`);
    else if (input.dhcpShared) files.push({ kind: 'block', group: 'dhcp', owner: 'site', path: dfile, body: text.replace(/\n+$/, '') });
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
  // Pieces are 0600: owned by root, a TFTP server that drops its privileges cannot send them.
  if (files.some((f) => f.kind === 'bytes' && f.group === 'tftp') && !input.tftpOwner)
    warnings.push('site.pxe.tftpUser is not set: the identity pieces in the TFTP tree are readable by root only, so a TFTP server that drops privileges (tftpd-hpa as tftp, dnsmasq as dnsmasq or nobody) cannot send them and those clients will not boot; set it to the user your TFTP server runs as');
  if (site.allow.length === 0 && Object.keys(data.images).length > 0) warnings.push('site.allow is empty: no image is exported; list the client networks in site.allow');
  if (input.exportsDirExists) files.push({ kind: 'text', group: 'exports', owner: 'site', path: join(site.exports.dir, EXPORTS_DROPIN), content: renderExportsFile(exportsInput) });
  else files.push({ kind: 'block', group: 'exports', owner: 'site', path: site.exports.file, body: renderExportsBlock(exportsInput) });

  return { files, warnings, failures };
}

/** Where a client's switch link and the shared client boot entries live, in the TFTP tree. */
export const CLIENT_SWITCH_DIR = 'nodes';
/** Where a guest's switch link and its file sets live, in the guest's directory. */
export const GUEST_SWITCH_DIR = '.xenroot';

/**
 * The per-node switch: every file of a node that names what it boots (a client's
 * pxelinux.cfg/01-MAC and ipxe/MAC.ipxe, a guest's NAME.cfg and NAME.xml) is a fixed symbolic link
 * into BASE/SWITCHDIR/KEY, and BASE/SWITCHDIR/KEY is itself a link to a directory holding the whole
 * set, named by its content (ENTRYDIR/ENTRYNAME+HASH, never changed once written). Moving the node
 * to another revision writes (or reuses) another set and replaces the one link KEY: a single
 * rename(2), so a crash at any moment leaves each node on its old set or its new one, never a mix
 * of the two. Sets are shared by nodes with the same content. Files of a node: its fixed links,
 * one switch link; sets are shared (clients) or one per guest.
 *
 * TFTP servers follow these relative links inside their root (QEMU's built-in one, dnsmasq's and
 * tftpd-hpa's were checked: test/revisions/tftp-links.e2e.test.ts, test/revisions/revisions.e2e.test.ts).
 */
/** The name of a file set: PREFIX + 16 hex digits of the sha1 of its names and contents. */
export function setName(prefix: string, files: { name: string; content: string }[]): string {
  const h = createHash('sha1');
  for (const f of files) h.update(f.name).update('\0').update(f.content).update('\0');
  return `${prefix}${h.digest('hex').slice(0, 16)}`;
}

export function nodeSwitch(o: {
  base: string;
  switchDir: string;
  key: string;
  entryDir: string;
  entryName: string;
  group: FileGroup;
  owner: FileOwner;
  entryOwner: FileOwner;
  /** The set's files; those with a `path` also get a fixed link there (e.g. pxelinux.cfg/01-MAC). */
  files: { name: string; path?: string; content: string }[];
  /** Sets already planned (shared by several nodes): planned once. */
  planned?: Set<string>;
  /** The set's name when the caller has it already (setName of the same files). */
  set?: string;
}): DesiredFile[] {
  const set = o.set ?? setName(o.entryName, o.files);
  const out: DesiredFile[] = [];
  const setDir = `${o.base}/${o.entryDir}/${set}`;
  if (!o.planned?.has(setDir)) for (const f of o.files) out.push({ kind: 'text', group: o.group, owner: o.entryOwner, path: `${setDir}/${f.name}`, content: f.content });
  o.planned?.add(setDir);
  const toEntry = relative(`${o.base}/${o.switchDir}`, `${o.base}/${o.entryDir}/${set}`);
  out.push({ kind: 'link', group: o.group, owner: o.owner, path: `${o.base}/${o.switchDir}/${o.key}`, target: toEntry });
  for (const f of o.files) if (f.path) out.push({ kind: 'link', group: o.group, owner: o.owner, path: f.path, target: relative(dirname(f.path), `${o.base}/${o.switchDir}/${o.key}/${f.name}`) });
  return out;
}
