/**
 * Edits of the identity fields of one node in an open inventory: hostname, address,
 * gateway and per-node files from command-line flags, each checked by the schema's own rule of
 * the field (the same message and exit code as in the file).
 */
import { InventoryError } from '../sys/errors.js';
import { SOURCE_RULE, statSourceFile } from '../sys/source-file.js';
import { fileFlags, type IdentityFlags } from './identity.js';
import { stateDir } from './paths.js';
import { FIELDS, flagValue } from './schema.js';
import type { Inventory } from './store.js';

/** Applies the flags to the node at `path` (['clients', NAME] or ['guests', NAME]). */
export function setIdentityFields(inv: Inventory, path: ['clients' | 'guests', string], flags: IdentityFlags): void {
  const f = FIELDS[path[0]];
  for (const [key, flag] of [['hostname', '--hostname'], ['address', '--address'], ['gateway', '--gateway']] as const) {
    const v = flags[key];
    if (v === undefined) continue;
    inv.set([...path, key], v === '' ? undefined : flagValue(f[key], flag, v));
  }
  if (!flags.files?.length) return;
  const node = path[0] === 'clients' ? inv.data.clients[path[1]] : inv.data.guests[path[1]];
  inv.set([...path, 'files'], editedFiles(node?.files ?? {}, flags.files, f.files));
}

/**
 * The `files:` of a node or group after `--file DEST=SOURCE` flags (`DEST=` removes DEST), the new
 * entries checked by `field`, the schema's own rule of the field; undefined when none is left.
 * Each SOURCE is checked as it will be read (sys/source-file.ts: a regular file reached without a
 * symlink, outside xenroot's state directory). InventoryError for a flag that is not DEST=SOURCE
 * or a SOURCE that is refused.
 */
export function editedFiles(current: Record<string, unknown>, specs: string[], field: Parameters<typeof flagValue>[0]): Record<string, unknown> | undefined {
  const { set, remove, bad } = fileFlags(specs, process.cwd());
  if (bad.length) throw new InventoryError(`--file ${JSON.stringify(bad[0])} is not valid: must be DEST=SOURCE (a path on the node, then a file here), or DEST= to remove DEST`);
  for (const [dest, { source }] of Object.entries(set)) {
    try {
      statSourceFile(source, [stateDir(undefined)]);
    } catch (err) {
      throw new InventoryError(`--file ${dest}=${source}: ${(err as Error).message}`, { hint: `a source must be ${SOURCE_RULE}` });
    }
  }
  const files: Record<string, unknown> = { ...current };
  for (const d of remove) delete files[d];
  Object.assign(files, flagValue(field, '--file', set));
  return Object.keys(files).length ? files : undefined;
}
