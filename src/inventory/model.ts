/**
 * The inventory's model for reading: from the cache (model-cache.ts) when it holds the file's
 * current text, else read and validated in full by the store (loaded only then) and cached. This
 * module loads neither zod nor a YAML parser, so a read-only command on a cache hit costs a read,
 * a hash and JSON.parse.
 */
import { readFile } from 'node:fs/promises';
import { modelKey, readModelCache, writeModelCache, type Model } from './model-cache.js';
import type { ModelCheck } from './model-checks.js';

export type { Model } from './model-cache.js';

/**
 * Loads the inventory's model for reading: from the cache when it holds this text, else read and
 * validated in full with `checks` (the store, loaded only then) and cached. Throws what the
 * store's loadInventory throws.
 */
export async function loadModel(file: string, checks: readonly ModelCheck[]): Promise<Model> {
  return modelOfText(file, await readFile(file, 'utf8').catch(() => undefined), checks);
}

/** loadModel for a text already read (undefined: the file could not be read; the store says why). */
export async function modelOfText(file: string, text: string | undefined, checks: readonly ModelCheck[]): Promise<Model> {
  const hit = text === undefined ? undefined : readModelCache(file, text);
  if (hit) return hit;
  const store = (await import('./store.js')).openInventoryStore(checks);
  // The store's read gives the one message for a missing or unreadable inventory.
  const inv = text === undefined ? await store.loadInventory(file) : store.parseInventoryText(text, file);
  const siteKeys = [...inv.siteKeys];
  const read = inv.toString();
  writeModelCache(file, read, inv.data, siteKeys);
  return { path: file, text: read, key: modelKey(read), data: inv.data, siteKeys };
}
