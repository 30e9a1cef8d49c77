/**
 * One iPXE script for every client (ipxe/boot.ipxe, the file DHCP hands to iPXE): a label per
 * client MAC that jumps to its boot entry, each distinct entry once, and the default script for
 * a MAC it does not know. iPXE, unlike pxelinux, runs scripts with labels and `goto`, so 10,000
 * clients need one file instead of 10,000 (pxelinux keeps its pxelinux.cfg/01-MAC files).
 *
 * Size: about 60 bytes per client (600 KB for 10,000), fetched once per boot beside a kernel and
 * initrd of tens of MB. `goto LABEL` fails for a label the script lacks (iPXE's script.c scans
 * for it), and `|| goto default` then takes the default. MACs are matched as
 * `${net0/mac:hexhyp}` (aa-bb-cc-dd-ee-ff), the spelling the per-MAC script names had. Pure.
 */
import { RenderError } from '../sys/errors.js';
import { generatedHeader } from './header.js';
import { renderIpxeEntry, ipxeUrl, IPXE_DIR } from './ipxe.js';
import type { BootEntry } from './pxelinux.js';

export interface FleetClient {
  name: string;
  mac: string;
  /** Index into entries. */
  entry: number;
}

export interface FleetScript {
  entries: BootEntry[];
  clients: FleetClient[];
  httpBase?: string;
}

const NORMAL_MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The body of one entry's script (kernel, initrd, boot): renderIpxeEntry's lines without its header. */
function entryBody(entry: BootEntry, httpBase: string | undefined): string[] {
  const text = renderIpxeEntry(entry, httpBase ? { httpBase } : {});
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

export function renderIpxeFleet(f: FleetScript): string {
  const lines = ['#!ipxe', generatedHeader(), `# ${f.clients.length} clients, ${f.entries.length} boot entries; a MAC not listed takes ${IPXE_DIR}/default.ipxe`];
  lines.push('goto mac-${net0/mac:hexhyp} || goto default', '');
  for (const c of f.clients) {
    if (!NORMAL_MAC.test(c.mac)) throw new RenderError(`MAC "${c.mac}" of client ${c.name} is not in the model's form`);
    lines.push(`:mac-${c.mac.replaceAll(':', '-')}`, `goto entry-${c.entry}`);
  }
  f.entries.forEach((e, i) => lines.push('', `:entry-${i}`, ...entryBody(e, f.httpBase)));
  lines.push('', ':default', `chain --autofree ${ipxeUrl(`${IPXE_DIR}/default.ipxe`, f.httpBase)}`, '');
  return lines.join('\n');
}
