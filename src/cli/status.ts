/** `xenroot status [NAME...] [--all] [--host H]`: state and MACs of guests, asked from their hosts. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { hostOptions } from './hvopts.js';
import { FLEET } from './fleet.js';
import { addOptions, optionValues } from './options.js';

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('status [names...]').description('show the state, MAC and pinning of guests (default: all), and what each client and guest boots next'), FLEET).action(async (names: string[], parsed: Record<string, unknown>) => {
    const o = optionValues(FLEET, parsed);
    const { guestStatus, clientStatus } = await import('../ops/guest-status.js');
    const file = await ctx.inventoryPath();
    const one = names.length === 1 && !o.all && !o.host?.length && !o.group?.length;
    const some = !o.all && (!!o.host?.length || !!o.group?.length || names.length > 1);
    const rows = some
      ? await (await import('../ops/fleet.js')).fleetStatus(file, { hosts: o.host ?? [], groups: o.group ?? [], names }, hostOptions(ctx, {}))
      : await guestStatus(file, one ? names[0] : undefined, hostOptions(ctx, {}));
    // Clients (what each boots at its next boot) follow the guests when no selection is given.
    const { clients, refusals } = !one && !some ? await clientStatus(file) : { clients: [], refusals: [] };
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
        // What each client reported to the boot service (xenroot serve) at its last check-in.
        ...(clients.length
          ? [
              '',
              table([
                ['CLIENT', 'MAC', 'HEALTH', 'RUNS', 'NEXT BOOT', 'DRIFT', 'LAST SEEN', 'REFUSED'],
                ...clients.map((c) => [c.name, c.mac, c.health, c.running ?? '-', c.nextBoot, c.drift ? 'yes' : 'no', c.lastSeen ?? 'never', c.refusals.length ? `${c.refusals.length}: ${c.refusals[0]!.reason}` : '-']),
              ]),
            ]
          : []),
        ...(refusals.length ? ['', 'boot service refusals naming no client (newest first):', ...refusals.slice(0, 10).map((r) => `  ${r.at} ${r.from} ${r.path} ${r.status}: ${r.reason}`)] : []),
      ].join('\n'),
    );
  });
}
