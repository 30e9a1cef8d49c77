/** `xenroot start NAME [--console]`: boot a guest; its first boot pins the MAC. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, targetOption, type TargetFlag } from './hvopts.js';
import { printAttachOutcome } from './console.js';

export function register(program: Command, ctx: CliContext): void {
  targetOption(
    program
      .command('start <name>')
      .description('start a guest (first start: pin the MAC the hypervisor gave it)')
      .option('--console', 'attach to its console once started (Ctrl-] detaches)'),
  ).action(async (name: string, o: { console?: boolean; target?: TargetFlag }) => {
    const { startGuest } = await import('../ops/start-guest.js');
    const { guestConsole } = await import('../ops/guest-console.js');
    const file = await ctx.inventoryPath();
    const r = await startGuest(file, name, hostOptions(ctx, o));
    ctx.print(r, () =>
      [
        `started ${name} at ${r.uri} (${r.target}, ${r.mode}), MAC ${r.mac}` +
          (r.pin === 'pinned' ? ' (first boot: now pinned)' : r.pin === 'kept' ? ` (another start pinned ${r.pinnedMac} first)` : ' (pinned)'),
        ...r.warnings.map((w) => `warning: ${w}`),
      ].join('\n'),
    );
    if (o.console) {
      const a = await guestConsole(file, name, { ...hostOptions(ctx, o), onAttach: () => process.stderr.write(`xenroot: attached to ${name} (escape: Ctrl-])\n`) });
      printAttachOutcome(name, a);
    }
  });
}
