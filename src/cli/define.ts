/** `xenroot define NAME`: a persistent libvirt domain from the inventory. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, targetOption, type TargetFlag } from './hvopts.js';

export function register(program: Command, ctx: CliContext): void {
  targetOption(program.command('define <name>').description('define the guest as a persistent libvirt domain (redefines it if it exists)')).action(
    async (name: string, o: { target?: TargetFlag }) => {
      const { defineGuest } = await import('../ops/define-guest.js');
      const r = await defineGuest(await ctx.inventoryPath(), name, hostOptions(ctx, o));
      ctx.print(r, () => (r.defined ? `defined ${name} at ${r.uri} (${r.target})` : `xl keeps no definitions: ${r.cfg} is the definition of ${name}`));
    },
  );
}
