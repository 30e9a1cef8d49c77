/** `xenroot sync`: write every generated file (guests, TFTP tree, DHCP, exports) from the inventory. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, NO_RELOAD, optionValues, PLAN_VIEW, WRITE_ROOT } from './options.js';

const SHOWN = 25;

const SYNC = { ...PLAN_VIEW, ...WRITE_ROOT, ...NO_RELOAD };

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('sync').description('render guest files, the TFTP tree, DHCP reservations and NFS exports from the inventory and write what changed'), SYNC)
    .action(async (parsed: Record<string, unknown>) => {
      const o = optionValues(SYNC, parsed);
      const { sync } = await import('../ops/sync.js');
      const r = await sync(await ctx.inventoryPath(), { ...o, dryRun: !!o.dryRun, diff: !!o.diff });
      ctx.print(r, () => {
        const c = r.counts;
        const head = `${r.dryRun ? 'dry run: would have ' : ''}${c.created} created, ${c.updated} updated, ${c.removed} removed, ${c.unchanged} unchanged`;
        const lines = [r.changes.length === 0 ? `nothing to do: ${c.unchanged} files up to date` : head];
        const shown = o.diff ? r.changes : r.changes.slice(0, SHOWN);
        for (const ch of shown) {
          if (o.diff && ch.diff) lines.push(ch.diff.trimEnd());
          else lines.push(`  ${ch.outcome.padEnd(7)} ${ch.target}`);
        }
        if (shown.length < r.changes.length) lines.push(`  ... and ${r.changes.length - shown.length} more (--json lists all)`);
        for (const rl of r.reloads) lines.push(`reload: ${rl.command}: ${rl.outcome}${rl.message ? ` (${rl.message})` : ''}`);
        for (const f of r.failures ?? []) lines.push(`  FAILED  ${f.kind} ${f.name}: ${f.path}: ${f.reason}`);
        return lines.join('\n');
      });
      // Every other node was written; the failing ones make the exit non-zero (8: files not applied).
      const failed = r.failures ?? [];
      if (failed.length) {
        const { DeployError } = await import('../sys/errors.js');
        throw new DeployError(`${failed.length} node${failed.length > 1 ? 's' : ''} not written (the others were): ${failed.map((f) => `${f.kind} ${f.name}: ${f.reason}`).join('; ')}`, {
          hint: 'fix the values named and run xenroot sync again; the failed nodes keep the files they had',
        });
      }
    });
}
