/** `xenroot mac NAME [--unpin | --set MAC]`: show or manage a guest's pinned MAC. */
import type { Command } from 'commander';
import { UsageError } from '../sys/errors.js';
import type { CliContext } from './context.js';
import { addOptions, flag, opt, optionValues, WRITE_ROOT } from './options.js';

const MAC = {
  ...WRITE_ROOT,
  set: opt({ flags: '--set <mac>', help: 'pin this MAC (unique across guests and clients)' }),
  unpin: flag('--unpin', 'remove the pinned MAC'),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('mac <name>'), MAC)
    .description('show the pinned MAC of a guest; --set pins one, --unpin lets the next start pin a new one')
    .action(async (name: string, parsed: Record<string, unknown>) => {
      const { set, unpin, root } = optionValues(MAC, parsed);
      const o = { set, unpin };
      if (o.set !== undefined && o.unpin) throw new UsageError('give --set MAC or --unpin, not both');
      const { getGuestMac, setGuestMac } = await import('../ops/guest-mac.js');
      const file = await ctx.inventoryPath();
      if (o.set === undefined && !o.unpin) {
        const g = await getGuestMac(file, name);
        ctx.print({ name, mac: g.mac ?? null, macSource: g.macSource ?? null, pinned: !!g.mac }, () =>
          g.mac ? `${name}: ${g.mac} (${g.macSource ?? 'pinned'})` : `${name}: no MAC pinned; the next start pins the one the hypervisor gives it`,
        );
        return;
      }
      const r = await setGuestMac(file, name, o.unpin ? undefined : o.set, root !== undefined ? { root } : {});
      ctx.print({ name, mac: r.mac ?? null, changed: r.changed, pinned: !!r.mac }, () =>
        o.unpin ? (r.changed ? `${name}: MAC unpinned; the next start pins a new one` : `${name}: no MAC was pinned`) : `${name}: ${r.mac} pinned${r.changed ? '' : ' (unchanged)'}`,
      );
    });
}
