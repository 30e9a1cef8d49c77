/**
 * Rules over the whole validated model that need a layer above the inventory to decide (issue 16:
 * the length of the kernel command line a node will boot is known only to the command line
 * builder, src/render). A layer above registers its rule once (`addModelCheck`); the store runs
 * every registered rule after the schema and the cross rules, on a full read and after each edit,
 * so a value that would break a consumer is refused where it enters: a flag, `client import`, or
 * a hand edit read at load. Rules are pure and return the inventory path and message of each problem.
 */
import type { CrossIssue, InventoryData } from './schema.js';

/** A rule over the validated model: the problems it finds (none: []). Must not throw. */
export type ModelCheck = (data: InventoryData) => CrossIssue[];

const checks: ModelCheck[] = [];

/** Registers a rule (idempotent for the same function). */
export function addModelCheck(check: ModelCheck): void {
  if (!checks.includes(check)) checks.push(check);
}

/** The problems every registered rule finds in `data`, in registration order. */
export function modelCheckIssues(data: InventoryData): CrossIssue[] {
  return checks.flatMap((c) => c(data));
}
