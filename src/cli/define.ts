/** `xenroot define NAME`: a persistent libvirt domain from the inventory. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions, TARGET } from './hvopts.js';
import { addOptions, optionValues } from './options.js';

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('define <name>').description('define the guest as a persistent libvirt domain (redefines it if it exists)'), TARGET).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const { defineGuest } = await import('../ops/define-guest.js');
      const r = await defineGuest(await ctx.inventoryPath(), name, hostOptions(ctx, optionValues(TARGET, parsed)));
      ctx.print(r, () => (r.defined ? `defined ${name} at ${r.uri} (${r.target})` : `xl keeps no definitions: ${r.cfg} is the definition of ${name}`));
    },
  );
}
