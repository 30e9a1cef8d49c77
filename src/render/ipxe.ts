/**
 * iPXE scripts: the second boot path. Pure. Each script loads the same kernel and initrd as the
 * pxelinux entry, over TFTP (paths absolute on the boot server: `/images/...`) or over HTTP when a
 * base URL is configured. `boot.ipxe` chains the per-MAC script and falls back to `default.ipxe`.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import { parseMac } from '../inventory/validate.js';
import type { BootEntry } from './pxelinux.js';
import { hasArg } from './cmdline.js';

export const IPXE_DIR = 'ipxe';

/** File name of a MAC's script, as iPXE's ${net0/mac:hexhyp} spells it: aa-bb-cc-dd-ee-ff.ipxe. */
export function ipxeMacName(mac: string): string {
  if (/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) return `${mac.replaceAll(':', '-')}.ipxe`;
  const normal = parseMac(mac);
  if (!normal) throw new RenderError(`MAC "${mac}" is not valid for an iPXE script name`);
  return `${normal.replace(/:/g, '-')}.ipxe`;
}

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

/** The entry script: the MAC's own script, else the default one. */
export function renderIpxeBoot(opts: { httpBase?: string } = {}): string {
  return [
    '#!ipxe',
    generatedHeader(),
    '# Chains this machine\'s script, else the default one.',
    `chain --autofree ${ipxeUrl(`${IPXE_DIR}/\${net0/mac:hexhyp}.ipxe`, opts.httpBase)} || chain --autofree ${ipxeUrl(`${IPXE_DIR}/default.ipxe`, opts.httpBase)}`,
    '',
  ].join('\n');
}
