/** `xenroot status [NAME]`: state and MACs of guests, asked from their hypervisors. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { hostOptions } from './hvopts.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('status [name]')
    .description('show the state, MAC and pinning of one or all guests')
    .action(async (name: string | undefined) => {
      const { guestStatus } = await import('../ops/guest-status.js');
      const rows = await guestStatus(await ctx.inventoryPath(), name, hostOptions(ctx, {}));
      ctx.print(name === undefined ? rows : rows[0], () =>
        table([
          ['NAME', 'STATE', 'MAC', 'PINNED', 'HOST'],
          ...rows.map((r) => [
            r.name,
            r.state === 'undefined' ? 'not defined' : r.state,
            r.liveMacs?.[0] ?? r.pinnedMac ?? '-',
            r.pinnedMac ? `yes (${r.macSource ?? 'pinned'})` : 'no (at first start)',
            r.uri,
          ]),
        ]),
      );
    });
}
