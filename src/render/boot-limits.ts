/**
 * The length limits of every consumer of a node's kernel command line, checked where a
 * value enters the inventory: the ops layer opens the store with `bootLimitIssues` among its rules
 * (ops/steps/store.ts), which runs it on every full read and after every edit, so an
 * append (the node's, its group's, its image's) or a site value that makes one node's line too
 * long for the program that reads it is refused with exit 3, naming the node and the consumer,
 * instead of failing at `sync`. Pure.
 *
 * The limits, and what each loader adds to the line xenroot writes:
 *
 * - Linux: COMMAND_LINE_SIZE is 2048 on x86 (arch/x86/include/asm/setup.h, the boot protocol's
 *   cmdline_size) including the terminating NUL: 2,047 bytes (CMDLINE_MAX).
 * - pxelinux / syslinux.efi (syslinux 6, com32/elflink/ldlinux): readconfig.c reads the config
 *   file with `fgets(line, sizeof line, f)` into `char line[MAX_LINE]`, `#define MAX_LINE 4096`:
 *   a config line longer than 4,095 bytes is split and its tail read as another line. record()
 *   appends IPAPPEND 2's " BOOTIF=01-aa-bb-cc-dd-ee-ff" to the APPEND text, and kernel.c's
 *   new_linux_kernel prepends "BOOT_IMAGE=KERNEL " (the format "BOOT_IMAGE=%s %s" is in the
 *   ldlinux.c32 Debian ships); the APPEND text itself carries "initrd=PATH".
 * - iPXE: the `kernel URL ARGS` line passes ARGS as the command line: "initrd=NAME LINE
 *   BOOTIF=01-..." (BOOTIF expanded from ${netX/mac:hexhyp}); no fixed line limit in its script reader.
 * - Xen PV guests (xl `extra=`, libvirt `<cmdline>` on Xen): xen/include/public/xen.h
 *   `#define MAX_GUEST_CMDLINE 1024` sizes start_info's `int8_t cmd_line[MAX_GUEST_CMDLINE]`,
 *   NUL included: 1,023 bytes reach the guest, the rest is cut.
 *
 * At entry the staged file names are not known yet (sync stages images/IMAGE/vmlinuz-KVER-HASH12
 * and initrd-KVER-pxe-HASH12.img, src/deploy/tftp.ts): the same names are counted with the image's
 * kver, and with a 20-byte kver when the image gives none.
 */
import { RenderError } from '../sys/errors.js';
import type { CrossIssue, InitrdBuilder, InventoryData } from '../inventory/schema.js';
import { CMDLINE_MAX } from '../inventory/validate.js';
import { effectiveClient, effectiveGuest } from '../inventory/effective.js';
import { argKey, nodeCmdline, resolveArgs, type ConsoleKind } from './cmdline.js';

/** Bytes of the Linux kernel command line on x86 without the NUL (COMMAND_LINE_SIZE 2048). */
export const LINUX_CMDLINE_MAX = CMDLINE_MAX;
/** Bytes of a Xen PV guest's command line without the NUL (xen/include/public/xen.h MAX_GUEST_CMDLINE 1024). */
export const XEN_PV_CMDLINE_MAX = 1023;
/** Bytes of one syslinux config line (syslinux 6 readconfig.c MAX_LINE 4096, read with fgets: 4,095). */
export const SYSLINUX_LINE_MAX = 4095;

/** What IPAPPEND 2 (pxelinux) and iPXE's BOOTIF= add: " BOOTIF=01-aa-bb-cc-dd-ee-ff". */
const BOOTIF_LENGTH = ' BOOTIF=01-aa-bb-cc-dd-ee-ff'.length;
/** The kver counted when an image gives none (Debian's "6.1.0-28-cloud-amd64" is 20). */
const KVER_GUESS = 'x'.repeat(20);

/** One consumer's verdict on a line: its name, the bytes it would receive, and its limit. */
export interface LimitCheck {
  consumer: string;
  bytes: number;
  limit: number;
}

/** The staged names sync will give an image's kernel and pxe initrd (relative to the TFTP root). */
function stagedNames(imageName: string, kver: string | undefined): { kernel: string; initrd: string } {
  const k = kver ?? KVER_GUESS;
  const hash = 'h'.repeat(12);
  return { kernel: `images/${imageName}/vmlinuz-${k}-${hash}`, initrd: `images/${imageName}/initrd-${k}-pxe-${hash}.img` };
}

/**
 * What each consumer of a PXE client's line receives, given the line buildCmdline made and the
 * staged kernel and initrd paths (TFTP-relative). Pure.
 */
export function pxeLimitChecks(line: string, files: { kernel: string; initrd: string }): LimitCheck[] {
  const bootif = line.split(' ').some((a) => argKey(a) === 'BOOTIF') ? 0 : BOOTIF_LENGTH;
  const initrdName = files.initrd.split('/').pop() as string;
  const appendText = `initrd=${files.initrd} ${line}`;
  return [
    { consumer: "Linux's command line as pxelinux passes it (BOOT_IMAGE=, initrd=, BOOTIF=; COMMAND_LINE_SIZE 2048 on x86)", bytes: `BOOT_IMAGE=${files.kernel} `.length + appendText.length + bootif, limit: LINUX_CMDLINE_MAX },
    { consumer: "Linux's command line as iPXE passes it (initrd=, BOOTIF=; COMMAND_LINE_SIZE 2048 on x86)", bytes: `initrd=${initrdName} ${line}`.length + bootif, limit: LINUX_CMDLINE_MAX },
    { consumer: "syslinux's config line (pxelinux APPEND; readconfig.c MAX_LINE 4096)", bytes: `  APPEND ${appendText}`.length, limit: SYSLINUX_LINE_MAX },
  ];
}

/** What a Xen PV guest's kernel receives: the line as is (xl extra=, libvirt <cmdline>). */
export function xenLimitChecks(line: string): LimitCheck[] {
  return [{ consumer: "Xen's PV guest command line (MAX_GUEST_CMDLINE 1024 in xen/include/public/xen.h)", bytes: line.length, limit: XEN_PV_CMDLINE_MAX }];
}

/** The one-line message of the checks over their limit, or undefined. */
export function limitMessage(checks: LimitCheck[], what: string): string | undefined {
  const over = checks.filter((c) => c.bytes > c.limit);
  if (over.length === 0) return undefined;
  return `${what} is too long: ${over.map((c) => `${c.bytes} bytes for ${c.consumer}, which takes at most ${c.limit}`).join('; ')}`;
}

function split(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter(Boolean);
}

/**
 * The line a node boots (its effective image append and own append after the generated
 * arguments, conflicts resolved as buildCmdline does) without buildCmdline's own length refusal,
 * so the length can be reported against each consumer. Undefined when the builder refuses the
 * line for another reason (a root= or ip= an initrd cannot read): rendering reports that one.
 */
function generatedArgs(data: InventoryData, imageName: string, root: string | undefined, console: ConsoleKind, cache: Map<string, string[] | null>): string[] | undefined {
  const key = `${imageName}\0${root ?? ''}\0${console}`;
  let gen = cache.get(key);
  if (gen === undefined) {
    const image = data.images[imageName]!;
    // The generated part alone: the same builder with the image's append left out.
    const bare = { ...data, images: { ...data.images, [imageName]: { ...image, append: undefined } } } as InventoryData;
    try {
      gen = nodeCmdline(bare, imageName, { root }, console).split(' ');
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      gen = null;
    }
    cache.set(key, gen);
  }
  return gen ?? undefined;
}

/**
 * The line a node boots (its effective image append and own append after the generated
 * arguments, conflicts resolved as buildCmdline does) without buildCmdline's own length refusal,
 * so the length can be reported against each consumer. Undefined when the builder refuses the
 * line for another reason (a root= or ip= an initrd cannot read): rendering reports that one.
 */
function lineOf(gen: string[], imageArgs: string[], nodeArgs: string[], dialect: InitrdBuilder): string | undefined {
  try {
    return resolveArgs([gen, imageArgs, nodeArgs], dialect).join(' ');
  } catch (err) {
    if (err instanceof RenderError) return undefined;
    throw err;
  }
}

/** Where a node's append comes from, for the message (`append from group lab`). */
function appendSource(data: InventoryData, node: { append?: string | undefined; group?: string | undefined }, own: { append?: string | undefined }): string {
  if (own.append !== undefined) return 'its own append';
  if (node.group !== undefined && data.groups?.[node.group]?.append !== undefined) return `the append of group ${node.group}`;
  return 'its image\'s append';
}

/**
 * Every node whose kernel command line is too long for a consumer that will read it: PXE clients
 * against Linux (as pxelinux and as iPXE pass it) and syslinux's config line, guests against Xen's
 * PV limit. A node whose line the builder refuses for another reason, or whose image or group is
 * missing, is left to the rules that report those. Pure; throws nothing.
 */
export function bootLimitIssues(data: InventoryData): CrossIssue[] {
  const issues: CrossIssue[] = [];
  const generated = new Map<string, string[] | null>();
  const check = (section: 'clients' | 'guests', name: string, checks: (line: string) => LimitCheck[], eff: { image: string; append?: string | undefined; root?: string | undefined; group?: string | undefined }, own: { append?: string | undefined }, console: ConsoleKind) => {
    const image = data.images[eff.image];
    if (!image) return;
    const gen = generatedArgs(data, eff.image, eff.root, console, generated);
    if (!gen) return;
    const imageArgs = split(image.append);
    const nodeArgs = split(eff.append);
    // Quick bound: the resolved line is at most every argument once, plus "root=/dev/nfs" when an
    // nfsroot= comes alone (32 bytes of slack): when even that fits every consumer, nothing to resolve.
    const bound = [...gen, ...imageArgs, ...nodeArgs].join(' ') + ' '.repeat(32);
    if (!checks(bound).some((c) => c.bytes > c.limit)) return;
    const line = lineOf(gen, imageArgs, nodeArgs, image.initrdBuilder ?? 'builtin');
    if (line === undefined) return;
    const message = limitMessage(checks(line), `the kernel command line it boots (with ${appendSource(data, eff, own)})`);
    if (message) issues.push({ path: [section, name], message });
  };
  for (const name of Object.keys(data.clients)) {
    const own = data.clients[name]!;
    let eff;
    try {
      eff = effectiveClient(data, name, own);
    } catch {
      continue; // no image: the cross rules say so
    }
    const image = data.images[eff.image];
    check('clients', name, (line) => pxeLimitChecks(line, stagedNames(eff.image, image?.kver)), eff, own, 'pxe');
  }
  for (const name of Object.keys(data.guests)) {
    const own = data.guests[name]!;
    let eff;
    try {
      eff = effectiveGuest(data, name, own);
    } catch {
      continue;
    }
    check('guests', name, xenLimitChecks, eff, own, 'xen');
  }
  return issues;
}
