/** `xenroot rollout IMAGE@REV` and `xenroot rollback IMAGE`: move nodes between published revisions. */
import type { Command } from 'commander';
import { collect, intOption, type CliContext } from './context.js';

const SHOWN = 25;

interface MoveFlags {
  clients?: string[];
  guests?: string[];
  group?: string;
  all?: boolean;
  dryRun?: boolean;
  diff?: boolean;
  root?: string;
  reload: boolean;
}

function selection(o: MoveFlags) {
  return {
    ...(o.clients ? { clients: o.clients } : {}),
    ...(o.guests ? { guests: o.guests } : {}),
    ...(o.group !== undefined ? { group: o.group } : {}),
    all: !!o.all,
  };
}

function withNodeFlags(cmd: Command): Command {
  return cmd
    .option('--clients <names>', 'these clients (comma-separated, repeatable)', collect)
    .option('--guests <names>', 'these guests (comma-separated, repeatable)', collect)
    .option('--group <group>', 'the members of a group')
    .option('--all', 'every node of the image')
    .option('-n, --dry-run', 'show what would change; touch nothing')
    .option('--diff', 'print a unified diff of every file change')
    .option('--root <dir>', 'write every system path under DIR (as DESTDIR does); no reloads')
    .option('--no-reload', 'do not run exportfs -r or restart the DHCP server');
}

type Result = Awaited<ReturnType<typeof import('../ops/rollout.js').rollout>>;

function human(r: Result, diff: boolean): string {
  const lines: string[] = [];
  const what = r.action === 'rollout' ? `rollout of ${r.ref}` : `rollback of ${r.image}`;
  if (r.moved.length === 0) lines.push(`${what}: nothing to move${r.unchanged.length ? ` (${r.unchanged.length} already on it)` : ''}`);
  else lines.push(`${r.dryRun ? 'dry run: would move' : 'moved'} ${r.moved.length} node${r.moved.length > 1 ? 's' : ''} (${what}${r.forced ? ', FORCED without a PASS on record' : r.pass ? `, PASS of ${r.pass.date}` : ''}); they boot it at their next boot`);
  for (const m of r.moved.slice(0, SHOWN)) lines.push(`  ${m.node}: ${m.from} -> ${m.to}`);
  if (r.moved.length > SHOWN) lines.push(`  ... and ${r.moved.length - SHOWN} more (--json lists all)`);
  if (r.remaining.length) lines.push(`canary: ${r.remaining.length} node${r.remaining.length > 1 ? 's' : ''} left on their revision; run it again without --canary to move them`);
  const c = r.counts;
  if (r.moved.length) lines.push(`files: ${c.created} created, ${c.updated} updated, ${c.removed} removed, ${c.unchanged} unchanged`);
  const shown = diff ? r.changes : r.changes.slice(0, SHOWN);
  for (const ch of shown) lines.push(diff && ch.diff ? ch.diff.trimEnd() : `  ${ch.outcome.padEnd(7)} ${ch.target}`);
  if (shown.length < r.changes.length) lines.push(`  ... and ${r.changes.length - shown.length} more (--json lists all)`);
  return lines.join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  withNodeFlags(
    program
      .command('rollout <image@rev>')
      .description('move nodes to a published revision at their next boot: only with a PASS of `xenroot test IMAGE@REV` on record'),
  )
    .option('--canary <n>', 'move only the first N of those nodes', intOption('--canary', 1, 1_000_000))
    .option('--force', 'move them without a PASS on record (recorded as forced)')
    .action(async (ref: string, o: MoveFlags & { canary?: number; force?: boolean }) => {
      const { rollout } = await import('../ops/rollout.js');
      const { flagPath } = await import('../inventory/paths.js');
      const r = await rollout(await ctx.inventoryPath(), ref, {
        ...selection(o),
        dryRun: !!o.dryRun,
        diff: !!o.diff,
        reload: o.reload,
        progress: !ctx.json,
        ...(o.root ? { root: flagPath('--root', o.root) } : {}),
        ...(o.canary !== undefined ? { canary: o.canary } : {}),
        force: !!o.force,
      });
      ctx.print(r, () => human(r, !!o.diff));
    });

  withNodeFlags(program.command('rollback <image>').description('return nodes to the revision they booted before their last rollout (no test needed)')).action(
    async (image: string, o: MoveFlags) => {
      const { rollback } = await import('../ops/rollout.js');
      const { flagPath } = await import('../inventory/paths.js');
      const r = await rollback(await ctx.inventoryPath(), image, { ...selection(o), dryRun: !!o.dryRun, diff: !!o.diff, reload: o.reload, ...(o.root ? { root: flagPath('--root', o.root) } : {}) });
      ctx.print(r, () => human(r, !!o.diff));
    },
  );
}
