/** `xenroot start NAME [--console]`, or several: `start NAME... | --all | --host H`. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, TARGET } from './hvopts.js';
import { printAttachOutcome } from './console.js';
import { FLEET, isFleet, printFleet } from './fleet.js';
import { addOptions, flag, optionValues } from './options.js';
import { escapeForTerminal } from '../sys/terminal.js';

const START = {
  console: flag('--console', 'attach to its console once started (Ctrl-] detaches; one guest only)'),
  ...TARGET,
  ...FLEET,
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(
    program.command('start [names...]').description('start guests (first start: pin the MAC the hypervisor gave it; on a host: place it and ship its boot files)'),
    START,
  ).action(async (names: string[], parsed: Record<string, unknown>) => {
    const o = optionValues(START, parsed);
    const file = await ctx.inventoryPath();
    if (isFleet(names, o)) {
      const { fleetStart, assertFleetOk } = await import('../ops/fleet.js');
      const { fleetProgress } = await import('./fleet-progress.js');
      const p = await fleetProgress('start', { json: ctx.json });
      const r = await fleetStart(file, { all: !!o.all, hosts: o.host ?? [], groups: o.group ?? [], names }, { ...hostOptions(ctx, o), parallel: o.parallel, onEvent: p.onEvent, say: p.say }).finally(() => p.done());
      printFleet(ctx, 'started', r.nodes, r.summary, (n) => {
        const s = n.result;
        if (!s) return '';
        const sent = (s.shipped ?? []).filter((f) => f.uploaded);
        return `MAC ${s.mac}${s.placement === 'placed' ? ', placed' : ''}${s.shipped ? `, boot files ${sent.length ? `shipped ${sent.length}` : 'already there'}` : ''}`;
      });
      assertFleetOk('start', r.nodes);
      return;
    }
    const name = names[0] as string;
    const { startGuest } = await import('../ops/start-guest.js');
    const { guestConsole } = await import('../ops/guest-console.js');
    const r = await startGuest(file, name, { ...hostOptions(ctx, o), ...(ctx.json ? {} : { say: (l: string) => process.stderr.write(`xenroot: ${escapeForTerminal(l)}\n`) }) });
    ctx.print(r, () =>
      [
        `started ${name} at ${r.host ? `host ${r.host} (${r.uri})` : r.uri} (${r.target}, ${r.mode}), MAC ${r.mac}` +
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


