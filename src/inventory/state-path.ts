/** Where xenroot's own state lives. Pure (reads the environment, no file): the schema's export rules read it. */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The site's own inventory file. */
export const DEFAULT_INVENTORY = '/etc/xenroot/inventory.yaml';

/** The name of the state directory beside an inventory that is not the site's own (docs/architecture.md). */
const STATE_BESIDE = 'state';

/**
 * Where xenroot keeps the state of the inventory at `inventoryFile` (model cache, sync manifests,
 * host keys, console and test records), as an absolute path:
 *  1. $XENROOT_STATE_DIR, when set;
 *  2. `site.stateDir` of that inventory, relative to the inventory's directory;
 *  3. /var/lib/xenroot for the site inventory /etc/xenroot/inventory.yaml (root), else
 *     $XDG_STATE_HOME/xenroot (~/.local/state/xenroot) for it;
 *  4. STATE_BESIDE (`state/`) beside any other inventory file: a scratch or demo inventory keeps
 *     its state in its own folder.
 * `inventoryFile` undefined means the machine's own state (records not tied to one inventory: ssh
 * settings for hosts, the facts of revision stores): rules 1 and 3. `site` is undefined where the
 * path is needed before the inventory is parsed (the model cache, the no-op check of sync): those
 * files then stay at rule 3/4 even when the site names another directory. Pure (reads no file).
 */
export function stateDir(inventoryFile: string | undefined, site?: { stateDir?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string {
  if (env.XENROOT_STATE_DIR) return resolve(env.XENROOT_STATE_DIR);
  const file = inventoryFile === undefined ? undefined : resolve(inventoryFile);
  if (file !== undefined && site?.stateDir) return resolve(dirname(file), site.stateDir);
  if (file === undefined || file === DEFAULT_INVENTORY) {
    if (process.getuid?.() === 0) return '/var/lib/xenroot';
    return join(env.XDG_STATE_HOME ?? join(homedir(), '.local/state'), 'xenroot');
  }
  return join(dirname(file), STATE_BESIDE);
}

/** The subdirectories of the state directory xenroot writes (host keys, caches, manifests, records). */
export const STATE_SUBDIRS = ['host-keys', 'model', 'sync', 'revisions', 'consoles', 'tests'] as const;
