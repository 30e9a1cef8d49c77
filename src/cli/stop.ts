/** `xenroot stop NAME [--force]`, or several: `stop NAME... | --all | --host H`. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, secondsOption } from './hvopts.js';
import { fleetFlags, isFleet, printFleet, type FleetFlags } from './fleet.js';

export function register(program: Command, ctx: CliContext): void {
  fleetFlags(
    program
      .command('stop [names...]')
      .description('shut guests down and wait until they are off (--force: pull the plug)')
      .option('--force', 'destroy at once')
      .option('--timeout <s>', 'seconds to wait for a graceful shutdown (default 60)', secondsOption('--timeout')),
  ).action(async (names: string[], o: FleetFlags & { force?: boolean; timeout?: number }) => {
    const file = await ctx.inventoryPath();
    const stopOpts = { ...hostOptions(ctx, {}), ...(o.force ? { force: true } : {}), ...(o.timeout ? { timeoutMs: o.timeout } : {}) };
    if (isFleet(names, o)) {
      const { fleetStop, assertFleetOk } = await import('../ops/fleet.js');
      const { fleetProgress } = await import('./fleet-progress.js');
      const p = await fleetProgress('stop', { json: ctx.json });
      const r = await fleetStop(file, { all: !!o.all, hosts: o.host ?? [], groups: o.group ?? [], names }, { ...stopOpts, parallel: o.parallel, onEvent: p.onEvent }).finally(() => p.done());
      printFleet(ctx, 'stopped', r.nodes, r.summary, (n) => (n.result ? `${n.result.how}, now ${n.result.after}` : ''));
      assertFleetOk('stop', r.nodes);
      return;
    }
    const name = names[0] as string;
    const { stopGuest } = await import('../ops/stop-guest.js');
    const r = await stopGuest(file, name, stopOpts);
    ctx.print(r, () => (r.how === 'not-running' ? `${name} is not running (${r.before})` : `stopped ${name} (${r.how}; now ${r.after})`));
  });
}
