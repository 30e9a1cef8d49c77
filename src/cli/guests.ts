/** `xenroot render`, `list`, `show`, `remove`: reading and removing guests. */
import type { Command } from 'commander';
import { choiceOption, table, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('render <name>')
    .description('print a generated file of a guest to stdout')
    .option('--format <fmt>', 'xl (the .cfg), libvirt (Xen PV XML) or qemu (QEMU test domain XML)', choiceOption('--format', ['xl', 'libvirt', 'qemu'] as const), 'libvirt')
    .action(async (name: string, o: { format: 'xl' | 'libvirt' | 'qemu' }) => {
      const { loadInventory } = await import('../inventory/store.js');
      const { renderGuest } = await import('../render/guest-files.js');
      const inv = await loadInventory(await ctx.inventoryPath());
      const text = renderGuest(inv.data, name, o.format);
      ctx.print({ name, format: o.format, text }, () => text);
    });

  program
    .command('list')
    .description('list guests')
    .action(async () => {
      const { loadInventory } = await import('../inventory/store.js');
      const inv = await loadInventory(await ctx.inventoryPath());
      const guests = inv.data.guests;
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
      const { getGuest } = await import('../inventory/guests.js');
      const g = await getGuest(await ctx.inventoryPath(), name);
      ctx.print({ name, ...g }, () => [`name: ${name}`, ...Object.entries(g).map(([k, v]) => `${k}: ${String(v)}`)].join('\n'));
    });

  program
    .command('remove <name>')
    .description('remove a guest from the inventory and delete its generated files')
    .action(async (name: string) => {
      const { removeGuest } = await import('../inventory/guests.js');
      const r = await removeGuest(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed guest ${name}${r.removedFiles.length ? ` and ${r.removedFiles.join(', ')}` : ''}`);
    });
}
