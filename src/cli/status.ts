/** `xenroot status [NAME...] [--all] [--host H]`: state and MACs of guests, asked from their hosts. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { hostOptions } from './hvopts.js';
import { fleetFlags, type FleetFlags } from './fleet.js';

export function register(program: Command, ctx: CliContext): void {
  fleetFlags(program.command('status [names...]').description('show the state, MAC and pinning of guests (default: all), and what each client and guest boots next')).action(async (names: string[], o: FleetFlags) => {
    const { guestStatus, clientStatus } = await import('../ops/guest-status.js');
    const file = await ctx.inventoryPath();
    const one = names.length === 1 && !o.all && !o.host?.length && !o.group?.length;
    const some = !o.all && (!!o.host?.length || !!o.group?.length || names.length > 1);
    const rows = some
      ? await (await import('../ops/fleet.js')).fleetStatus(file, { hosts: o.host ?? [], groups: o.group ?? [], names }, hostOptions(ctx, {}))
      : await guestStatus(file, one ? names[0] : undefined, hostOptions(ctx, {}));
    // Clients (issue 12: what each boots at its next boot) follow the guests when no selection is given.
    const clients = !one && !some ? await clientStatus(file) : [];
    ctx.print(one ? rows[0] : [...rows, ...clients], () =>
      [
        table([
          ['NAME', 'STATE', 'MAC', 'PINNED', 'HOST', 'RUNS', 'NEXT BOOT'],
          ...rows.map((r) => [
            r.name,
            r.state === 'undefined' ? 'not defined' : r.state,
            r.liveMacs?.[0] ?? r.pinnedMac ?? '-',
            r.pinnedMac ? `yes (${r.macSource ?? 'pinned'})` : 'no (at first start)',
            r.host ? `${r.host} (${r.uri})` : r.uri,
            r.running ?? '-',
            r.nextBoot ?? '-',
          ]),
        ]),
        ...(clients.length ? ['', table([['CLIENT', 'MAC', 'RUNS', 'NEXT BOOT'], ...clients.map((c) => [c.name, c.mac, 'unknown', c.nextBoot])])] : []),
      ].join('\n'),
    );
  });
}
