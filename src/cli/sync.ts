/** `xenroot sync`: write every generated file (guests, TFTP tree, DHCP, exports) from the inventory. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';

const SHOWN = 25;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('sync')
    .description('render guest files, the TFTP tree, DHCP reservations and NFS exports from the inventory and write what changed')
    .option('-n, --dry-run', 'show what would change; touch nothing')
    .option('--diff', 'print a unified diff of every change')
    .option('--root <dir>', 'write every system path under DIR (as DESTDIR does); no reloads')
    .option('--no-reload', 'do not run exportfs -r or restart the DHCP server')
    .action(async (o: { dryRun?: boolean; diff?: boolean; root?: string; reload: boolean }) => {
      const { sync } = await import('../ops/sync.js');
      const { flagPath } = await import('../inventory/paths.js');
      const r = await sync(await ctx.inventoryPath(), {
        ...(o.root ? { root: flagPath('--root', o.root) } : {}),
        dryRun: !!o.dryRun,
        diff: !!o.diff,
        reload: o.reload,
      });
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
