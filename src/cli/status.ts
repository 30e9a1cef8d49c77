/** `xenroot status [NAME...] [--all] [--host H]`: state and MACs of guests, asked from their hosts. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { hostOptions } from './hvopts.js';
import { fleetFlags, type FleetFlags } from './fleet.js';

export function register(program: Command, ctx: CliContext): void {
  fleetFlags(program.command('status [names...]').description('show the state, MAC and pinning of guests (default: all)')).action(async (names: string[], o: FleetFlags) => {
    const { guestStatus } = await import('../ops/guest-status.js');
    const file = await ctx.inventoryPath();
    const one = names.length === 1 && !o.all && !o.host?.length;
    const some = !o.all && (!!o.host?.length || names.length > 1);
    const rows = some
      ? await (await import('../ops/fleet.js')).fleetStatus(file, { hosts: o.host ?? [], groups: o.group ?? [], names }, hostOptions(ctx, {}))
      : await guestStatus(file, one ? names[0] : undefined, hostOptions(ctx, {}));
    ctx.print(one ? rows[0] : rows, () =>
      table([
        ['NAME', 'STATE', 'MAC', 'PINNED', 'HOST'],
        ...rows.map((r) => [
          r.name,
          r.state === 'undefined' ? 'not defined' : r.state,
          r.liveMacs?.[0] ?? r.pinnedMac ?? '-',
          r.pinnedMac ? `yes (${r.macSource ?? 'pinned'})` : 'no (at first start)',
          r.host ? `${r.host} (${r.uri})` : r.uri,
        ]),
      ]),
    );
  });
}
