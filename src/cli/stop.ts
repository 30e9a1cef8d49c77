/** `xenroot stop NAME [--force]`. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, secondsOption } from './hvopts.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('stop <name>')
    .description('shut a guest down and wait until it is off (--force: pull the plug)')
    .option('--force', 'destroy it at once')
    .option('--timeout <s>', 'seconds to wait for a graceful shutdown (default 60)', secondsOption('--timeout'))
    .action(async (name: string, o: { force?: boolean; timeout?: number }) => {
      const { stopGuest } = await import('../ops/stop-guest.js');
      const r = await stopGuest(await ctx.inventoryPath(), name, {
        ...hostOptions(ctx, {}),
        ...(o.force ? { force: true } : {}),
        ...(o.timeout ? { timeoutMs: o.timeout } : {}),
      });
      ctx.print(r, () => (r.how === 'not-running' ? `${name} is not running (${r.before})` : `stopped ${name} (${r.how}; now ${r.after})`));
    });
}
