/**
 * The cache of the validated model: reading and validating a YAML inventory of 10,000 clients costs
 * hundreds of milliseconds, reading its model back as JSON a few. The cache holds the model of
 * ONE inventory text, keyed by the sha1 of that text and of the code stamp (src/sys/stamp.ts):
 * any change of the file (by xenroot or by hand) or of the code that validates it misses, and
 * the file is read and validated in full, then cached again. Every save by xenroot writes the
 * model it has just validated, so the next command starts from a hit.
 *
 * The cache lives in the inventory's state directory (stateDir(file)/model/: it is found before the
 * inventory is parsed, so a site.stateDir does not move it), one file per inventory path, and is
 * written atomically without a flush: a cache lost or torn by a crash is a miss, never a wrong
 * model (the key inside it must match). This module loads neither zod nor a YAML parser: a hit
 * costs a read, a hash and JSON.parse.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomicSync } from '../sys/atomic.js';
import { codeStamp } from '../sys/stamp.js';
import { stateDir } from './paths.js';
import { ensureStateDir } from './state-dir.js';
import type { InventoryData } from './schema.js';

const VERSION = 1;

/** The validated model of one inventory text. */
export interface Model {
  path: string;
  text: string;
  /** sha1 of the code stamp and the text. */
  key: string;
  data: InventoryData;
  /** The site keys the file gives itself (others are defaults): for `show`. */
  siteKeys: string[];
}

/** The cache key of an inventory text under the running code. */
export function modelKey(text: string): string {
  return createHash('sha1').update(codeStamp()).update('\0').update(text).digest('hex');
}

/** Where the model of the inventory at `file` is cached. */
export function modelCachePath(file: string): string {
  return join(stateDir(file), 'model', `${createHash('sha1').update(file).digest('hex').slice(0, 16)}.json`);
}

/** The cached model of `text`, or undefined (no cache, another text, another code, unreadable). */
export function readModelCache(file: string, text: string): Model | undefined {
  const key = modelKey(text);
  let raw: string;
  try {
    raw = readFileSync(modelCachePath(file), 'utf8');
  } catch {
    return undefined;
  }
  // The key sits at the start: a miss is seen without parsing the whole model.
  if (!raw.startsWith(`{"v":${VERSION},"key":"${key}",`)) return undefined;
  try {
    const c = JSON.parse(raw) as { key: string; siteKeys: string[]; data: InventoryData };
    return { path: file, text, key, data: c.data, siteKeys: c.siteKeys };
  } catch {
    return undefined;
  }
}

/**
 * The mode of a cache of the inventory at `file`: the inventory's own read and write bits (a cache
 * carries inline per-node files, so it is never more open than the inventory), 0600 when the
 * inventory cannot be stat'ed.
 */
export function cacheMode(file: string): number {
  return (statSync(file, { throwIfNoEntry: false })?.mode ?? 0o600) & 0o666;
}

/**
 * Caches the validated model of `text` (best effort: a cache that cannot be written only costs
 * the next command a full read), with the inventory's mode (cacheMode) in a 0700 state directory.
 * The data must be what validating `text` gives.
 */
export function writeModelCache(file: string, text: string, data: InventoryData, siteKeys: Iterable<string>, target = modelCachePath(file)): void {
  try {
    const body = JSON.stringify({ v: VERSION, key: modelKey(text), siteKeys: [...siteKeys], data });
    ensureStateDir(dirname(dirname(target)));
    writeFileAtomicSync(target, body, { mkdirs: true, mode: cacheMode(file), durable: false });
  } catch {
    // A read-only or missing state directory: no cache.
  }
}
