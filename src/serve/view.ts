/**
 * The service's view of the inventory: read without the lock (writers replace the file
 * atomically, so a read sees one whole version), and read again when the file changed. Each
 * request asks `current()`, which costs one stat(2): a `sync`, a rollout or a MAC pin is seen by
 * the next request, and none of them waits for the service. `reload()` (SIGHUP) reads it anew.
 */
import { stat } from 'node:fs/promises';
import { loadInventory } from '../ops/steps/store.js';
import { readRevisionIndexes } from '../inventory/revision-store.js';
import type { InventoryData } from '../inventory/schema.js';
import type { RevisionIndex } from '../inventory/revisions.js';
import { log } from '../sys/log.js';

export interface InventoryView {
  /** The inventory as it is on disk now (re-read when its inode, size or mtime changed). */
  current(): Promise<InventoryData>;
  /** The revision indexes of its images (read per call: small files, asked only by check-ins). */
  revisionIndexes(data: InventoryData): Map<string, RevisionIndex>;
  /** Reads the inventory anew; a broken inventory keeps the last good one (logged). */
  reload(): Promise<void>;
}

/**
 * The view of inventory `file`. The first read must succeed (its InventoryError reaches the
 * caller); later a file that no longer validates is logged and the last good version is served.
 */
export async function inventoryView(file: string): Promise<InventoryView> {
  let stamp = '';
  let data: InventoryData | undefined;
  const stampOf = async (): Promise<string> => {
    const st = await stat(file);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  };
  // The stamp is taken before the read: a version that fails to validate is not read again
  // until the file changes.
  const read = async (): Promise<void> => {
    stamp = await stampOf();
    data = (await loadInventory(file)).data;
  };
  await read();
  // One read at a time, and every request waits for the one in progress (a SIGHUP's read must
  // not let a request see the new stamp with the old data).
  let reading: Promise<void> | undefined;
  const refresh = async (force: boolean): Promise<void> => {
    while (reading) await reading;
    try {
      if (!force && (await stampOf()) === stamp) return;
    } catch {
      // Gone for a moment (an editor's rename): keep serving the last good version.
      return;
    }
    if (reading) return refresh(force);
    reading = read()
      .then(() => log().info({ inventory: file }, 'inventory read anew'))
      .catch((err: unknown) => log().warn({ inventory: file, err: (err as Error).message }, 'the inventory cannot be read; serving its last good version'))
      .finally(() => (reading = undefined));
    await reading;
  };
  return {
    async current() {
      await refresh(false);
      return data as InventoryData;
    },
    revisionIndexes(d) {
      try {
        return readRevisionIndexes(d);
      } catch (err) {
        log().warn({ err: (err as Error).message }, 'a revision record cannot be read');
        return new Map();
      }
    },
    reload: () => refresh(true),
  };
}
