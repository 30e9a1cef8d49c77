/**
 * pxelinux configuration files. Pure: boot entries in, text out.
 * pxelinux looks up pxelinux.cfg/<uuid>, then 01-<mac lower case, dashes> (01 = ARP type
 * Ethernet), then the IP in hex shortened digit by digit, then `default`. syslinux.efi (UEFI
 * clients) reads the same files from the same pxelinux.cfg/ beside it, with the same lookup
 * order, IPAPPEND 2 and `initrd=a,b` (tested under OVMF: /work/notes/issue13-uefi-identity.md).
 */
import { RenderError } from '../sys/errors.js';
import { CMDLINE_MAX, parseMac } from '../inventory/validate.js';

import { generatedHeader } from './header.js';
import { hasArg } from './cmdline.js';

/** The pxelinux.cfg file name of a MAC: 01-aa-bb-cc-dd-ee-ff (any input spelling). */
const NORMAL_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function pxelinuxMacName(mac: string): string {
  if (NORMAL_MAC.test(mac)) return `01-${mac.replaceAll(':', '-')}`; // the model's form: no re-parse
  const normal = parseMac(mac);
  if (!normal) throw new RenderError(`MAC "${mac}" is not valid for a pxelinux.cfg file name`);
  return `01-${normal.replace(/:/g, '-')}`;
}

/** One bootable entry: paths relative to the TFTP root. */
export interface BootEntry {
  label: string;
  kernel: string;
  initrd: string;
  /** The kernel command line without initrd= (buildCmdline's output). */
  cmdline: string;
  /** The node's identity piece (identity/node-NAME.cpio.gz), loaded after `initrd` (its files win). */
  nodeInitrd?: string;
}

/** The initrds of an entry, in load order: the image's, then the node's. */
export function entryInitrds(e: BootEntry): string[] {
  return e.nodeInitrd ? [e.initrd, e.nodeInitrd] : [e.initrd];
}

/** The longest BOOTIF= a loader appends (" BOOTIF=01-aa-bb-cc-dd-ee-ff"). */
export const BOOTIF_ARG_LENGTH = ' BOOTIF=01-aa-bb-cc-dd-ee-ff'.length;

/**
 * Refuses a command line that the kernel would truncate once the loader has added its own
 * arguments (initrd=..., BOOTIF=...): COMMAND_LINE_SIZE is 2048 bytes with the NUL on x86.
 */
export function checkLoaderLine(what: string, line: string): string {
  if (line.length + BOOTIF_ARG_LENGTH > CMDLINE_MAX)
    throw new RenderError(`${what}: the kernel command line with the loader's initrd= and BOOTIF= is ${line.length + BOOTIF_ARG_LENGTH} bytes; the kernel keeps only ${CMDLINE_MAX}`, {
      hint: 'shorten the append arguments of the image or node',
    });
  return line;
}

export interface PxelinuxConfig {
  /** Label booted without a prompt (must be one of the entries' labels). */
  defaultLabel?: string;
  entries: BootEntry[];
  /** Tenths of a second before the default boots; 0 boots at once without a prompt. */
  timeout?: number;
  /** What this file is for, written as a comment. */
  comment?: string;
}

function checkLine(what: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new RenderError(`${what} contains a line break; pxelinux lines end at a newline`);
  return value;
}

const LABEL_RE = /^[A-Za-z0-9_.-]+$/;

export function renderPxelinux(cfg: PxelinuxConfig): string {
  const lines = [generatedHeader()];
  if (cfg.comment) lines.push(`# ${checkLine('comment', cfg.comment)}`);
  if (cfg.entries.length === 0) {
    // Nothing to boot over the network: hand back to the next boot device.
    lines.push('DEFAULT local', 'PROMPT 0', 'LABEL local', '  LOCALBOOT 0', '');
    return lines.join('\n');
  }
  const def = cfg.defaultLabel ?? cfg.entries[0]!.label;
  if (!cfg.entries.some((e) => e.label === def)) throw new RenderError(`pxelinux default label "${def}" names no entry`);
  const timeout = cfg.timeout ?? 0;
  lines.push(`DEFAULT ${def}`, `PROMPT ${timeout > 0 ? 1 : 0}`, `TIMEOUT ${timeout}`);
  for (const e of cfg.entries) {
    if (!LABEL_RE.test(e.label)) throw new RenderError(`pxelinux label "${e.label}" is not valid: must be letters, digits, "_", "-", "."`);
    lines.push(
      '',
      `LABEL ${e.label}`,
      `  KERNEL ${checkLine('kernel path', e.kernel)}`,
      // initrd=a,b: pxelinux and syslinux.efi load both, the later one's files win.
      `  APPEND ${checkLoaderLine(`pxelinux entry ${e.label}`, `initrd=${entryInitrds(e).map((i) => checkLine('initrd path', i)).join(',')} ${checkLine('command line', e.cmdline)}`)}`,
    );
    // IPAPPEND 2 adds BOOTIF=01-<mac>: the initrd knows which NIC booted (never a second BOOTIF).
    if (!hasArg(e.cmdline, 'BOOTIF')) lines.push('  IPAPPEND 2');
  }
  lines.push('');
  return lines.join('\n');
}
