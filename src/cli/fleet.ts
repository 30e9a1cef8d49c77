/** Flags and output shared by the fleet forms of start, stop and status. */
import { UsageError } from '../sys/errors.js';
import type { FleetSummary, NodeResult } from '../ops/fleet.js';
import { table, type CliContext } from './context.js';
import { flag, integer, list, type Values } from './options.js';

/** The selection of the fleet forms of start, stop and status. */
export const FLEET = {
  all: flag('--all', 'every guest of the inventory'),
  host: list('--host <host>', 'the guests placed on inventory host HOST (repeatable, or comma-separated)'),
  group: list('--group <group>', 'the guests of group GROUP (repeatable, or comma-separated)'),
  parallel: integer('--parallel <n>', 'guests in progress at once (default 8; at most 4 per host)', 1, 256),
};

export type FleetFlags = Values<typeof FLEET>;

/** Whether the command runs over a fleet (not exactly one named guest without fleet flags). */
export function isFleet(names: string[], o: FleetFlags): boolean {
  if (!o.all && !o.host?.length && !o.group?.length && names.length === 0) throw new UsageError('name a guest, several, --all, --host H or --group G');
  return !!o.all || !!o.host?.length || !!o.group?.length || names.length > 1;
}

/** Prints per-node results (a table, or the JSON array of nodes) and the summary line. */
export function printFleet<T>(ctx: CliContext, verb: string, nodes: NodeResult<T>[], s: FleetSummary, detail: (n: NodeResult<T>) => string): void {
  ctx.print(nodes, () =>
    [
      table([
        ['NAME', 'HOST', 'RESULT', 'TIME', 'DETAIL'],
        ...nodes.map((n) => [n.name, n.host ?? '-', n.outcome, `${(n.ms / 1000).toFixed(1)} s`, n.outcome === 'ok' ? detail(n) : (n.message ?? '')]),
      ]),
      `${verb} ${s.ok}, skipped ${s.skipped}, failed ${s.failed} in ${(s.ms / 1000).toFixed(1)} s`,
    ].join('\n'),
  );
}
