/**
 * Rules over the whole validated model that need a layer above the inventory to decide (the
 * length of the kernel command line a node will boot is known only to the command line builder,
 * src/render). The store is opened with its rules (`openInventoryStore(checks)` in store.ts; the
 * ops layer does it once, ops/steps/store.ts) and runs them after the schema and the cross rules,
 * on a full read and after each edit, so a value that would break a consumer is refused where it
 * enters: a flag, `client import`, or a hand edit read at load. Rules are pure and return the
 * inventory path and message of each problem.
 */
import type { CrossIssue, InventoryData } from './schema.js';

/** A rule over the validated model: the problems it finds (none: []). Must not throw. */
export type ModelCheck = (data: InventoryData) => CrossIssue[];

/** The problems `checks` find in `data`, in their order. */
export function modelCheckIssues(checks: readonly ModelCheck[], data: InventoryData): CrossIssue[] {
  return checks.flatMap((c) => c(data));
}
