/**
 * The model with published revisions: the inventory, plus the recorded revisions of
 * its images (state directory), as the renderers see it. Every command that writes generated
 * files plans from this (sync, rollout, rollback, publish, prune), so they all write the same files.
 */
import { InventoryError } from '../../sys/errors.js';
import type { InventoryData } from '../../inventory/schema.js';
import { readRevisionIndexes } from '../../inventory/revision-store.js';
import { effectiveModel, missingRevisions, type RevisionIndex } from '../../inventory/revisions.js';

/**
 * `data` with its live revisions as image entries IMAGE@REV and each node on a revision pointed
 * at its entry. `indexes`: the revision facts to use (default: the recorded ones). Throws
 * InventoryError when a node boots or may roll back to a revision that does not exist.
 */
export function revisionModel(data: InventoryData, indexes?: Map<string, RevisionIndex>): InventoryData {
  const facts = indexes ?? readRevisionIndexes(data);
  const missing = missingRevisions(data, facts);
  if (missing.length)
    throw new InventoryError(`${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}: no such published revision`, {
      hint: '`xenroot image show IMAGE` lists the revisions; `xenroot rollout IMAGE@REV` moves the nodes to one that exists',
    });
  return effectiveModel(data, facts);
}
