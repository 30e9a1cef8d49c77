/**
 * Loading and saving the inventory. Reads parse the YAML into a Document (comments kept) and
 * validate it; writes happen only inside `updateInventory`, which holds an inter-process lock
 * (proper-lockfile: a lock directory beside the file, stale after a crash), re-reads the file
 * under the lock, applies the change to the Document, validates the result and replaces the file
 * atomically (write-file-atomic: temp file, fsync, rename).
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { Document, isMap, parseDocument, type Node as YamlNode } from 'yaml';
import type { ZodError } from 'zod';
import { InventoryError } from '../errors.js';
import { InventorySchema, type InventoryData } from './schema.js';

export const DEFAULT_INVENTORY = '/etc/xenroot/inventory.yaml';

/** `--inventory PATH`, else $XENROOT_INVENTORY, else /etc/xenroot/inventory.yaml. */
export function inventoryPath(flag?: string): string {
  return resolve(flag ?? process.env.XENROOT_INVENTORY ?? DEFAULT_INVENTORY);
}

export class Inventory {
  constructor(
    readonly path: string,
    readonly doc: Document,
    public data: InventoryData,
  ) {}

  /** Directory that holds generated guest files (NAME.cfg, NAME.xml). */
  get guestDir(): string {
    const configured = this.data.site.guestDir;
    return resolve(dirname(this.path), configured ?? 'guests');
  }

  /** Sets a value at a path in the document, keeping comments elsewhere. */
  set(path: (string | number)[], value: unknown): void {
    if (value === undefined) {
      this.doc.deleteIn(path);
      return;
    }
    ensureMaps(this.doc, path.slice(0, -1));
    this.doc.setIn(path, this.doc.createNode(value));
  }

  delete(path: (string | number)[]): void {
    this.doc.deleteIn(path);
  }

  /** Re-validates the document after changes; throws InventoryError naming the path. */
  revalidate(): void {
    this.data = validate(this.doc.toJS(), this.path);
  }

  toString(): string {
    return this.doc.toString({ lineWidth: 0 });
  }
}

/** Creates missing parent maps so that setIn works on `guests.NAME.key` in a fresh file. */
function ensureMaps(doc: Document, path: (string | number)[]): void {
  for (let i = 1; i <= path.length; i++) {
    const sub = path.slice(0, i);
    const node = doc.getIn(sub, true) as YamlNode | undefined;
    if (node === undefined || node === null || (!isMap(node) && (node as { value?: unknown }).value === null)) {
      doc.setIn(sub, doc.createNode({}));
    }
  }
}

export function formatIssues(err: ZodError, file: string): string {
  const first = err.issues[0];
  if (!first) return `${file}: invalid inventory`;
  const where = first.path.length ? first.path.join('.') : '(top level)';
  const more = err.issues.length > 1 ? ` (and ${err.issues.length - 1} more problem${err.issues.length > 2 ? 's' : ''})` : '';
  return `${file}: ${where}: ${first.message}${more}`;
}

export function validate(raw: unknown, file: string): InventoryData {
  if (raw === null || raw === undefined) throw new InventoryError(`${file}: the inventory is empty`, { hint: 'run `xenroot init` to create one' });
  const parsed = InventorySchema.safeParse(raw);
  if (!parsed.success) {
    throw new InventoryError(formatIssues(parsed.error, file), {
      hint: 'fix the file by hand or with xenroot commands; `xenroot show` and `xenroot image show` print what is there',
    });
  }
  return parsed.data;
}

export function parseInventoryText(text: string, file: string): Inventory {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw new InventoryError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  return new Inventory(file, doc, validate(doc.toJS(), file));
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new InventoryError(`${file}: no inventory there`, {
        hint: 'create one with `xenroot init`, or point at yours with --inventory PATH or XENROOT_INVENTORY',
      });
    throw new InventoryError(`${file}: cannot read the inventory (${code ?? String(err)})`, { cause: err });
  }
}

/** Loads and validates the inventory for reading (no lock: writers replace the file atomically). */
export async function loadInventory(file: string): Promise<Inventory> {
  return parseInventoryText(await readText(file), file);
}

/** Lock settings: a lock older than `stale` ms is taken over (its holder died). */
function lockOptions() {
  const stale = Number(process.env.XENROOT_LOCK_STALE_MS ?? 10_000);
  return {
    realpath: false,
    stale,
    update: Math.max(1000, Math.floor(stale / 2)),
    retries: { retries: 1200, factor: 1.2, minTimeout: 10, maxTimeout: 100, randomize: true },
  };
}

type Lockfile = typeof import('proper-lockfile');
type AtomicWrite = typeof import('write-file-atomic');
const require = createRequire(import.meta.url);

/** Holds the inventory's lock while `fn` runs; releases it on every path out. */
export async function withInventoryLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lockfile = require('proper-lockfile') as Lockfile;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, lockOptions());
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOCKED')
      throw new InventoryError(`${file}: the inventory is locked by another xenroot process`, {
        hint: `wait for it to finish; a lock left by a crashed process (${file}.lock) expires by itself`,
      });
    if (code === 'ENOENT')
      throw new InventoryError(`${dirname(file)}: the inventory's directory does not exist`, { hint: 'create it, or run `xenroot init`' });
    throw new InventoryError(`${file}: cannot lock the inventory: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}

/** Writes text to the file atomically (temp file + fsync + rename). */
export async function atomicWrite(file: string, text: string, mode?: number): Promise<void> {
  const writeFileAtomic = require('write-file-atomic') as AtomicWrite;
  await writeFileAtomic(file, text, { fsync: true, ...(mode === undefined ? {} : { mode }) });
}

/**
 * Runs `fn` on the current inventory under the lock; if `fn` changed the document, validates and
 * saves it atomically. Returns what `fn` returns. Nothing is written when validation fails.
 */
export async function updateInventory<T>(file: string, fn: (inv: Inventory) => T | Promise<T>): Promise<T> {
  return withInventoryLock(file, async () => {
    const before = await readText(file);
    const inv = parseInventoryText(before, file);
    const result = await fn(inv);
    const after = inv.toString();
    if (after !== before) {
      inv.revalidate();
      await atomicWrite(file, after);
    }
    return result;
  });
}

/** Creates a new inventory file from text; refuses to replace an existing one. */
export async function createInventory(file: string, text: string): Promise<Inventory> {
  const inv = parseInventoryText(text, file);
  const { mkdir, stat } = await import('node:fs/promises');
  await mkdir(dirname(file), { recursive: true });
  return withInventoryLock(file, async () => {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new InventoryError(`${file}: an inventory exists already`, { hint: 'edit it, or pick another path with --inventory' });
    await atomicWrite(file, text);
    return inv;
  });
}
