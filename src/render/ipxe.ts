/**
 * iPXE scripts: the second boot path. Pure. Each script loads the same kernel and initrd as the
 * pxelinux entry, over TFTP (paths absolute on the boot server: `/images/...`) or over HTTP when a
 * base URL is configured. `boot.ipxe` chains the booting NIC's node script and falls back to `default.ipxe`.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import type { BootEntry } from './pxelinux.js';
import { hasArg } from './cmdline.js';

export const IPXE_DIR = 'ipxe';

/** URL of a file of the TFTP tree: `/path` (same TFTP server) or BASE/path. */
export function ipxeUrl(relPath: string, httpBase?: string): string {
  const rel = relPath.replace(/^\/+/, '');
  return httpBase ? `${httpBase.replace(/\/+$/, '')}/${rel}` : `/${rel}`;
}

function checkLine(what: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new RenderError(`${what} contains a line break; iPXE script lines end at a newline`);
  return value;
}

export function renderIpxeEntry(entry: BootEntry | undefined, opts: { httpBase?: string; comment?: string } = {}): string {
  const lines = ['#!ipxe', generatedHeader()];
  if (opts.comment) lines.push(`# ${checkLine('comment', opts.comment)}`);
  if (!entry) {
    lines.push('echo xenroot: no image to boot for ${net0/mac}', 'exit 1', '');
    return lines.join('\n');
  }
  const initrdName = entry.initrd.split('/').pop() as string;
  lines.push(
    `kernel ${checkLine('kernel path', ipxeUrl(entry.kernel, opts.httpBase))} initrd=${initrdName} ${checkLine('command line', entry.cmdline)}${hasArg(entry.cmdline, 'BOOTIF') ? '' : ' BOOTIF=01-${net0/mac:hexhyp}'}`,
    `initrd ${checkLine('initrd path', ipxeUrl(entry.initrd, opts.httpBase))}`,
    'boot',
    '',
  );
  return lines.join('\n');
}

/**
 * The entry script: the script of the NIC that booted (${netX/mac}: iPXE's net0 is the first NIC,
 * not the one that booted), in its node's switch directory NODESDIR/aa-bb-cc-dd-ee-ff/ipxe, else
 * the default one.
 */
export function renderIpxeBoot(opts: { httpBase?: string; nodesDir: string }): string {
  return [
    '#!ipxe',
    generatedHeader(),
    '# Chains the script of the NIC that booted, else the default one.',
    `chain --autofree ${ipxeUrl(`${opts.nodesDir}/\${netX/mac:hexhyp}/ipxe`, opts.httpBase)} || chain --autofree ${ipxeUrl(`${IPXE_DIR}/default.ipxe`, opts.httpBase)}`,
    '',
  ].join('\n');
}
