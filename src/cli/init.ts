import type { Command } from 'commander';
import { collect, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('create a new inventory with the site settings')
    .option('--nfs-server <addr>', 'address guests and clients mount their root from (default: this host\'s first IPv4)')
    .option('--export-root <dir>', 'where image exports live (default /srv/xenroot)')
    .option('--tftp-root <dir>', 'TFTP tree of the PXE clients (default /tftpboot/linux-install)')
    .option('--boot-dir <dir>', 'kernels and initrds on the Xen host (default /var/lib/xenroot/boot)')
    .option('--allow <cidr>', 'client network allowed to mount (repeatable; default: the NFS server\'s /24)', collect)
    .option('--bridge <br>', 'default bridge of guests (default xenbr0)')
    .option('--connect <uri>', 'default hypervisor URI (default xen:///system)')
    .option('--group <group>', 'a group that may read the inventory (mode 0640; default: 0600, root only)')
    .action(async (o: { nfsServer?: string; exportRoot?: string; tftpRoot?: string; bootDir?: string; allow?: string[]; bridge?: string; connect?: string; group?: string }) => {
      const { initInventory } = await import('../ops/init.js');
      const file = await ctx.inventoryPath();
      // The program's global --connect takes the flag before this command sees it: it is the site default here.
      const connect = o.connect ?? ctx.options.connect;
      const inv = await initInventory(file, { ...o, ...(connect ? { connect } : {}) });
      ctx.print({ inventory: file, site: inv.data.site }, () => `created ${file} (NFS server ${inv.data.site.nfsServer}, clients ${inv.data.site.allow.join(', ')})`);
    });
}
