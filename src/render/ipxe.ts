/**
 * iPXE scripts: the second boot path. Pure. Each script loads the same kernel and initrd as the
 * pxelinux entry, over TFTP (paths absolute on the boot server: `/images/...`) or over HTTP when a
 * base URL is configured. `boot.ipxe` chains the booting NIC's node script and falls back to `default.ipxe`.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import { parseMac } from '../inventory/validate.js';
import { checkLoaderLine, entryInitrds, type BootEntry } from './pxelinux.js';
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

/**
 * The BOOTIF= of an iPXE script: the MAC written literally when the script is a machine's own
 * (the file was chosen by that MAC), else `${netX/mac:hexhyp}`. iPXE's `${net0/mac}` is the FIRST
 * NIC, not the one that booted: on a two-NIC machine booting from its second NIC it named the
 * other one (seen with the BIOS ROM and ipxe.efi, /work/notes/issue13-uefi-identity.md); `netX` is
 * the most recently opened device, the one autoboot booted from (iPXE 66ea458, 2013).
 */
function bootifArg(mac: string | undefined): string {
  if (mac === undefined) return 'BOOTIF=01-${netX/mac:hexhyp}';
  const normal = parseMac(mac);
  if (!normal) throw new RenderError(`MAC "${mac}" is not valid for an iPXE BOOTIF`);
  return `BOOTIF=01-${normal.replace(/:/g, '-')}`;
}

/**
 * One machine's boot script (or the default one without `mac`): kernel, then every initrd (the
 * image's, then the node's identity piece: over TFTP with `pieceOverTftp`), each also named on the kernel line as `initrd=NAME`
 * (under UEFI the kernel's EFI stub loads only the initrds its command line names: LTSP's
 * ltsp.ipxe "In EFI mode, iPXE requires initrds to be specified in the cmdline").
 */
export function renderIpxeEntry(entry: BootEntry | undefined, opts: { httpBase?: string; comment?: string; mac?: string; pieceOverTftp?: boolean } = {}): string {
  const lines = ['#!ipxe', generatedHeader()];
  if (opts.comment) lines.push(`# ${checkLine('comment', opts.comment)}`);
  if (!entry) {
    lines.push('echo xenroot: no image to boot for ${netX/mac}', 'exit 1', '');
    return lines.join('\n');
  }
  const initrds = entryInitrds(entry);
  const names = initrds.map((i) => i.split('/').pop() as string);
  if (new Set(names).size !== names.length) throw new RenderError(`iPXE entry ${entry.label}: two initrds are both named ${names[0]}; iPXE names an image by its file name`);
  const line = `${names.map((n) => `initrd=${n}`).join(' ')} ${checkLine('command line', entry.cmdline)}`;
  checkLoaderLine(`iPXE entry ${entry.label}`, line);
  lines.push(
    `kernel ${checkLine('kernel path', ipxeUrl(entry.kernel, opts.httpBase))} ${line}${hasArg(entry.cmdline, 'BOOTIF') ? '' : ` ${bootifArg(opts.mac)}`}`,
    // The node's identity piece holds its host private keys: the boot service never sends it, so
    // with the service on it stays on TFTP (from the server that sent iPXE: ${next-server}).
    ...initrds.map((i) => `initrd ${checkLine('initrd path', i === entry.nodeInitrd && opts.pieceOverTftp ? `tftp://\${next-server}/${i.replace(/^\/+/, '')}` : ipxeUrl(i, opts.httpBase))}`),
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
