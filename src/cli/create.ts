import type { Command } from 'commander';
import type { CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('create <name>')
    .description('add a Xen guest to the inventory and write NAME.cfg (xl) and NAME.xml (libvirt)')
    .option('--image <image>', 'the image the guest boots (default: its group\'s)')
    .option('--group <group>', 'the group whose defaults it takes (image, append, connect, bridge)')
    .option('--memory <MiB>', 'memory in MiB (default 512)')
    .option('--vcpus <n>', 'virtual CPUs (default 1)')
    .option('--bridge <br>', 'bridge of the guest\'s NIC (default: the site\'s)')
    .option('--mac <mac>', 'pin this MAC, or "auto" to allocate one now (default: pinned at first start)')
    .option('--append <args>', 'extra kernel arguments')
    .option('--out <dir>', 'directory for NAME.cfg and NAME.xml (default: guests/ beside the inventory)')
    .option('--host <host>', 'the inventory host it runs on (default: placed by xenroot at its first start, when there are hosts)')
    .action(async (name: string, o: { image?: string; group?: string; memory?: string; vcpus?: string; bridge?: string; mac?: string; append?: string; out?: string; host?: string }) => {
      const { createGuest } = await import('../ops/create-guest.js');
      const connect = o.host ? undefined : ctx.options.connect;
      const r = await createGuest(await ctx.inventoryPath(), { name, ...o, ...(connect ? { connect } : {}) });
      ctx.print({ name: r.name, guest: r.guest, files: { cfg: r.files.cfg, xml: r.files.xml } }, () =>
        [
          `created guest ${name} (image ${r.guest.image ?? `of group ${r.guest.group}`}, ${r.guest.memory} MiB, ${r.guest.vcpus} vCPU, MAC ${r.guest.mac ?? 'pinned at first start'}${r.guest.host ? `, host ${r.guest.host}` : ''})`,
          `  ${r.files.cfg}`,
          `  ${r.files.xml}`,
        ].join('\n'),
      );
    });
}
