import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, list, opt, optionValues } from './options.js';

/** The site's settings; each value is checked by the inventory field it is stored in (exit 3). */
const INIT = {
  nfsServer: opt({ flags: '--nfs-server <addr>', help: 'address guests and clients mount their root from (default: this host\'s first IPv4)' }),
  exportRoot: opt({ flags: '--export-root <dir>', help: 'where image exports live (default /srv/xenroot)' }),
  tftpRoot: opt({ flags: '--tftp-root <dir>', help: 'TFTP tree of the PXE clients (default /tftpboot/linux-install)' }),
  bootDir: opt({ flags: '--boot-dir <dir>', help: 'kernels and initrds on the Xen host (default /var/lib/xenroot/boot)' }),
  allow: list('--allow <cidr>', 'client network allowed to mount (repeatable; default: the NFS server\'s /24)'),
  bridge: opt({ flags: '--bridge <br>', help: 'default bridge of guests (default xenbr0)' }),
  connect: opt({ flags: '--connect <uri>', help: 'default hypervisor URI (default xen:///system)' }),
  group: opt({ flags: '--group <group>', help: 'a group that may read the inventory (mode 0640; default: 0600, root only)' }),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('init').description('create a new inventory with the site settings'), INIT)
    .action(async (parsed: Record<string, unknown>) => {
      const o = optionValues(INIT, parsed);
      const { initInventory } = await import('../ops/init.js');
      const file = await ctx.inventoryPath();
      // The program's global --connect takes the flag before this command sees it: it is the site default here.
      const connect = o.connect ?? ctx.options.connect;
      const inv = await initInventory(file, { ...o, ...(connect ? { connect } : {}) });
      ctx.print({ inventory: file, site: inv.data.site }, () => `created ${file} (NFS server ${inv.data.site.nfsServer}, clients ${inv.data.site.allow.join(', ')})`);
    });
}
