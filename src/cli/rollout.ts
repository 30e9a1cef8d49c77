/** `xenroot rollout IMAGE@REV` and `xenroot rollback IMAGE`: move nodes between published revisions. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, flag, integer, list, NO_RELOAD, opt, optionValues, PLAN_VIEW, WRITE_ROOT } from './options.js';

const SHOWN = 25;

/** The nodes to move and how: rollback takes these, rollout these and ROLLOUT. */
const MOVE = {
  clients: list('--clients <names>', 'these clients (comma-separated, repeatable)'),
  guests: list('--guests <names>', 'these guests (comma-separated, repeatable)'),
  group: opt({ flags: '--group <group>', help: 'the members of a group' }),
  all: flag('--all', 'every node of the image'),
  ...PLAN_VIEW,
  ...WRITE_ROOT,
  ...NO_RELOAD,
};

const ROLLOUT = {
  ...MOVE,
  canary: integer('--canary <n>', 'move only the first N of those nodes', 1, 1_000_000),
  force: flag('--force', 'move them without a PASS on record (recorded as forced)'),
};

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
  addOptions(program.command('rollout <image@rev>').description('move nodes to a published revision at their next boot: only with a PASS of `xenroot test IMAGE@REV` on record'), ROLLOUT).action(
    async (ref: string, parsed: Record<string, unknown>) => {
      const o = optionValues(ROLLOUT, parsed);
      const { rollout } = await import('../ops/rollout.js');
      const r = await rollout(await ctx.inventoryPath(), ref, { ...o, all: !!o.all, dryRun: !!o.dryRun, diff: !!o.diff, force: !!o.force, progress: !ctx.json });
      ctx.print(r, () => human(r, !!o.diff));
    },
  );

  addOptions(program.command('rollback <image>').description('return nodes to the revision they booted before their last rollout (no test needed)'), MOVE).action(
    async (image: string, parsed: Record<string, unknown>) => {
      const o = optionValues(MOVE, parsed);
      const { rollback } = await import('../ops/rollout.js');
      const r = await rollback(await ctx.inventoryPath(), image, { ...o, all: !!o.all, dryRun: !!o.dryRun, diff: !!o.diff });
      ctx.print(r, () => human(r, !!o.diff));
    },
  );
}
