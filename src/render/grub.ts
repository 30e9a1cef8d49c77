/**
 * GRUB network boot configs for UEFI Secure Boot clients (site.pxe.efiLoader: grub): the
 * Microsoft-signed shim (shimx64.efi) loads Debian's signed grubnetx64 (served as grubx64.efi),
 * whose prefix is (tftp,SERVER)/grub and whose embedded config sources $prefix/grub.cfg. Pure.
 *
 * grub/grub.cfg (the dispatcher) first runs `normal`, whose netboot search (GRUB 2.06, GNU GRUB
 * manual "Network") tries grub.cfg-01-MAC, then the client IP in hex shortened digit by digit, then
 * grub.cfg (the dispatcher again, which then skips `normal`); failing those it sources
 * grub.cfg-01-<$net_default_mac> itself, else grub.cfg-default. `[ -f ]` is always false on
 * (tftp) (no directory listing), so files are tried by sourcing. Tested under OVMF with
 * shim 15.7/16.1 and GRUB 2.06 (/work/notes/issue13-uefi-identity.md).
 *
 * Every kernel argument and path is single-quoted: GRUB does not expand `$` or treat `;`, `#`,
 * `{`, `|` specially inside single quotes, and xenroot's values never hold a single quote.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import { parseMac } from '../inventory/validate.js';
import { checkLoaderLine, entryInitrds, type BootEntry } from './pxelinux.js';

export const GRUB_DIR = 'grub';

/** The per-MAC config GRUB's netboot search asks for: grub.cfg-01-aa-bb-cc-dd-ee-ff. */
export function grubMacName(mac: string): string {
  const normal = parseMac(mac);
  if (!normal) throw new RenderError(`MAC "${mac}" is not valid for a GRUB config name`);
  return `grub.cfg-01-${normal.replace(/:/g, '-')}`;
}

function quote(what: string, value: string): string {
  if (/['\r\n\u0000]/.test(value)) throw new RenderError(`${what} contains a quote or a line break; a GRUB config cannot carry it single-quoted`);
  return `'${value}'`;
}

/** Splits $net_default_mac (the booting NIC, aa:bb:...) into $xr_mac (aa-bb-...). */
const SPLIT_MAC = [
  "regexp --set=1:m1 --set=2:m2 --set=3:m3 --set=4:m4 --set=5:m5 --set=6:m6 '^([0-9a-f]{1,2})\\:([0-9a-f]{1,2})\\:([0-9a-f]{1,2})\\:([0-9a-f]{1,2})\\:([0-9a-f]{1,2})\\:([0-9a-f]{1,2})' \"$net_default_mac\"",
  'set xr_mac="$m1-$m2-$m3-$m4-$m5-$m6"',
  'export xr_mac',
];

/**
 * One machine's config (or one without `mac`: the default one, or an entry shared by several
 * machines): a menu entry booted at once with the kernel, its command line, BOOTIF of the NIC (the
 * literal MAC for a machine's own file; else $net_default_mac split by the config itself, since
 * GRUB's netboot search may load it before the dispatcher ran) and every initrd in order.
 */
export function renderGrubEntry(entry: BootEntry | undefined, opts: { mac?: string; comment?: string } = {}): string {
  const lines = [generatedHeader()];
  if (opts.comment) lines.push(`# ${opts.comment.replace(/[\r\n]/g, ' ')}`);
  lines.push('set xr_found=1', 'set default=0', 'set timeout=0');
  if (!entry) {
    lines.push('echo "xenroot: no image to boot"', 'sleep 5', 'exit', '');
    return lines.join('\n');
  }
  checkLoaderLine(`GRUB entry ${entry.label}`, entry.cmdline + ` initrd=${entryInitrds(entry).join(',')}`);
  const args = entry.cmdline.split(' ').filter(Boolean).map((a) => quote('kernel argument', a));
  const mac = opts.mac === undefined ? undefined : parseMac(opts.mac);
  if (opts.mac !== undefined && !mac) throw new RenderError(`MAC "${opts.mac}" is not valid for a GRUB BOOTIF`);
  if (!mac) lines.push(...SPLIT_MAC);
  // $xr_mac: the booting NIC's MAC with dashes, from $net_default_mac.
  args.push(mac ? quote('BOOTIF', `BOOTIF=01-${mac.replace(/:/g, '-')}`) : '"BOOTIF=01-${xr_mac}"');
  lines.push(
    `menuentry ${quote('label', entry.label)} {`,
    `  linux ${quote('kernel path', `/${entry.kernel.replace(/^\/+/, '')}`)} ${args.join(' ')}`,
    `  initrd ${entryInitrds(entry).map((i) => quote('initrd path', `/${i.replace(/^\/+/, '')}`)).join(' ')}`,
    '}',
    '',
  );
  return lines.join('\n');
}

/** grub/grub.cfg: the dispatcher (see above). */
export function renderGrubDispatcher(): string {
  return [
    generatedHeader(),
    '# Finds this machine\'s config by the MAC of the NIC that booted ($net_default_mac), else the default one.',
    'set timeout=0',
    'if [ -z "$xr_pass" ]; then set xr_pass=1; export xr_pass; normal; fi',
    ...SPLIT_MAC,
    'source "$prefix/grub.cfg-01-$xr_mac"',
    'if [ -z "$xr_found" ]; then source "$prefix/grub.cfg-default"; fi',
    '',
  ].join('\n');
}
