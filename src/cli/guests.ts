/** `xenroot render`, `list`, `show`, `remove`: reading and removing guests. */
import type { Command } from 'commander';
import { choiceOption, table, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('render <name>')
    .description('print a generated file of a guest to stdout')
    .option('--format <fmt>', 'xl (the .cfg), libvirt (Xen PV XML) or qemu (QEMU test domain XML)', choiceOption('--format', ['xl', 'libvirt', 'qemu'] as const), 'libvirt')
    .action(async (name: string, o: { format: 'xl' | 'libvirt' | 'qemu' }) => {
      const { renderGuestText } = await import('../ops/guests.js');
      const text = await renderGuestText(await ctx.inventoryPath(), name, o.format);
      ctx.print({ name, format: o.format, text }, () => text);
    });

  program
    .command('list')
    .description('list guests')
    .action(async () => {
      const { listGuests } = await import('../ops/guests.js');
      const guests = await listGuests(await ctx.inventoryPath());
      ctx.print(guests, () =>
        table([
          ['NAME', 'IMAGE', 'MEMORY', 'VCPUS', 'MAC'],
          ...Object.entries(guests).map(([n, g]) => [n, g.image, `${g.memory} MiB`, String(g.vcpus), g.mac ? `${g.mac} (${g.macSource ?? 'pinned'})` : '(pinned at first start)']),
        ]),
      );
    });

  program
    .command('show <name>')
    .description('show one guest')
    .action(async (name: string) => {
      const { showGuest } = await import('../ops/guests.js');
      const g = await showGuest(await ctx.inventoryPath(), name);
      ctx.print({ name, ...g }, () => [`name: ${name}`, ...Object.entries(g).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)].join('\n'));
    });

  program
    .command('remove <name>')
    .description('remove a guest from the inventory and delete its generated files')
    .action(async (name: string) => {
      const { removeGuest } = await import('../ops/remove-guest.js');
      const r = await removeGuest(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed guest ${name}${r.removedFiles.length ? ` and ${r.removedFiles.join(', ')}` : ''}`);
    });
}
