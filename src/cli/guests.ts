/** `xenroot render`, `list`, `show`, `remove`: reading and removing guests. */
import type { Command } from 'commander';
import { explained, table, type CliContext } from './context.js';
import { addOptions, choice, optionValues, WRITE_ROOT } from './options.js';

const RENDER = { format: choice('--format <fmt>', 'xl (the .cfg), libvirt (Xen PV XML) or qemu (QEMU test domain XML)', ['xl', 'libvirt', 'qemu'] as const, 'libvirt') };

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('render <name>').description('print a generated file of a guest to stdout'), RENDER)
    .action(async (name: string, parsed: Record<string, unknown>) => {
      const { format = 'libvirt' } = optionValues(RENDER, parsed);
      const o = { format };
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
          ['NAME', 'IMAGE', 'MEMORY', 'VCPUS', 'MAC', 'GROUP', 'HOST'],
          ...Object.entries(guests).map(([n, g]) => [n, g.image ?? '-', `${g.memory} MiB`, String(g.vcpus), g.mac ? `${g.mac} (${g.macSource ?? 'pinned'})` : '(pinned at first start)', g.group ?? '-', g.host ?? g.connect ?? '-']),
        ]),
      );
    });

  program
    .command('show <name>')
    .description('show one guest (by name or pinned MAC) and where each value comes from (own, group, site, default)')
    .action(async (ref: string) => {
      const { showGuest } = await import('../ops/guests.js');
      const r = await showGuest(await ctx.inventoryPath(), ref);
      ctx.print({ name: r.name, ...r.guest, sources: r.sources }, () => explained(`guest ${r.name}`, r.guest, r.sources));
    });

  addOptions(program.command('remove <name>'), WRITE_ROOT)
    .description('remove a guest from the inventory and delete its generated files')
    .action(async (name: string, o: Record<string, unknown>) => {
      const { removeGuest } = await import('../ops/remove-guest.js');
      const r = await removeGuest(await ctx.inventoryPath(), name, optionValues(WRITE_ROOT, o));
      ctx.print(r, () => `removed guest ${name}${r.removedFiles.length ? ` and ${r.removedFiles.join(', ')}` : ''}`);
    });
}
