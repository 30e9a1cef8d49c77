import type { Command } from 'commander';
import { collectFiles, type CliContext } from './context.js';
import { addOptions, optionValues, WRITE_ROOT } from './options.js';

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('create <name>'), WRITE_ROOT)
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
    .option('--hostname <name>', 'host name (default: the guest\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address')
    .option('--gateway <ipv4>', 'default gateway with --address')
    .option('--file <dest=source>', 'per-node file: DEST on the guest gets the content of SOURCE (repeatable)', collectFiles)
    .action(async (name: string, o: { image?: string; group?: string; memory?: string; vcpus?: string; bridge?: string; mac?: string; append?: string; out?: string; host?: string; hostname?: string; address?: string; gateway?: string; file?: string[]; root?: string }) => {
      const { createGuest } = await import('../ops/create-guest.js');
      const connect = o.host ? undefined : ctx.options.connect;
      const { file, root: _written, ...rest } = o;
      const r = await createGuest(await ctx.inventoryPath(), { name, ...rest, ...optionValues(WRITE_ROOT, o), ...(file ? { files: file } : {}), ...(connect ? { connect } : {}) });
      ctx.print({ name: r.name, guest: r.guest, files: { cfg: r.files.cfg, xml: r.files.xml } }, () =>
        [
          `created guest ${name} (image ${r.guest.image ?? `of group ${r.guest.group}`}, ${r.guest.memory} MiB, ${r.guest.vcpus} vCPU, MAC ${r.guest.mac ?? 'pinned at first start'}${r.guest.host ? `, host ${r.guest.host}` : ''})`,
          `  ${r.files.cfg}`,
          `  ${r.files.xml}`,
        ].join('\n'),
      );
    });

  addOptions(program.command('set <name>'), WRITE_ROOT)
    .description('change the identity of a guest (host name, address, per-node files) and rewrite its files')
    .option('--hostname <name>', 'host name ("" for the guest\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address ("" to remove)')
    .option('--gateway <ipv4>', 'default gateway ("" to remove)')
    .option('--file <dest=source>', 'per-node file DEST from SOURCE; DEST= removes it (repeatable)', collectFiles)
    .action(async (name: string, o: { hostname?: string; address?: string; gateway?: string; file?: string[]; root?: string }) => {
      const { setGuest } = await import('../ops/set-guest.js');
      const { file, root: _written, ...rest } = o;
      const r = await setGuest(await ctx.inventoryPath(), name, { ...rest, ...(file ? { files: file } : {}) }, optionValues(WRITE_ROOT, o));
      ctx.print(r, () => (r.changed ? `changed guest ${name}${r.written.length ? `; rewrote ${r.written.join(', ')}` : ''}` : `guest ${name} unchanged`));
    });
}
