/** `xenroot status [NAME]`: state and MACs of guests, asked from their hypervisors. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { hostOptions } from './hvopts.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status [name]')
    .description('show the state, MAC and pinning of one or all guests')
    .action(async (name: string | undefined) => {
      const { guestStatus, clientStatus } = await import('../ops/guest-status.js');
      const file = await ctx.inventoryPath();
      const rows = await guestStatus(file, name, hostOptions(ctx, {}));
      // Clients (issue 12: what each boots at its next boot) follow the guests when no name is given.
      const clients = name === undefined ? await clientStatus(file) : [];
      ctx.print(name === undefined ? [...rows, ...clients] : rows[0], () =>
        [
          table([
            ['NAME', 'STATE', 'MAC', 'PINNED', 'HOST', 'RUNS', 'NEXT BOOT'],
            ...rows.map((r) => [
              r.name,
              r.state === 'undefined' ? 'not defined' : r.state,
              r.liveMacs?.[0] ?? r.pinnedMac ?? '-',
              r.pinnedMac ? `yes (${r.macSource ?? 'pinned'})` : 'no (at first start)',
              r.uri,
              r.running ?? '-',
              r.nextBoot ?? '-',
            ]),
          ]),
          ...(clients.length ? ['', table([['CLIENT', 'MAC', 'RUNS', 'NEXT BOOT'], ...clients.map((c) => [c.name, c.mac, 'unknown', c.nextBoot])])] : []),
        ].join('\n'),
      );
    });
}
