/** `xenroot undefine NAME`. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { hostOptions } from './hvopts.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('undefine <name>')
    .description('remove the persistent libvirt domain of a guest (the inventory entry stays)')
    .action(async (name: string) => {
      const { undefineGuest } = await import('../ops/define-guest.js');
      const r = await undefineGuest(await ctx.inventoryPath(), name, hostOptions(ctx, {}));
      ctx.print(r, () => (r.undefined ? `undefined ${name} at ${r.uri}` : `${name} is not defined at ${r.uri}`));
    });
}
