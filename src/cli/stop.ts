/** `xenroot stop NAME [--force]`, or several: `stop NAME... | --all | --host H`. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions } from './hvopts.js';
import { FLEET, isFleet, printFleet } from './fleet.js';
import { addOptions, flag, optionValues, seconds } from './options.js';

const STOP = {
  force: flag('--force', 'destroy at once'),
  timeoutMs: seconds('--timeout <s>', 'seconds to wait for a graceful shutdown (default 60)'),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('stop [names...]').description('shut guests down and wait until they are off (--force: pull the plug)'), { ...STOP, ...FLEET }).action(async (names: string[], parsed: Record<string, unknown>) => {
    const o = optionValues(FLEET, parsed);
    const file = await ctx.inventoryPath();
    const stopOpts = { ...hostOptions(ctx, {}), ...optionValues(STOP, parsed) };
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
