/** Where xenroot's own state lives. Pure (reads the environment, no file): the schema's export rules read it. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where xenroot keeps its own state (sync manifests, test records): $XENROOT_STATE_DIR, else
 * /var/lib/xenroot for root, else $XDG_STATE_HOME/xenroot (~/.local/state/xenroot).
 */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XENROOT_STATE_DIR) return resolve(env.XENROOT_STATE_DIR);
  if (process.getuid?.() === 0) return '/var/lib/xenroot';
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local/state'), 'xenroot');
}

/** The subdirectories of the state directory xenroot writes (host keys, caches, manifests, records). */
export const STATE_SUBDIRS = ['host-keys', 'model', 'sync', 'revisions', 'consoles', 'tests'] as const;
