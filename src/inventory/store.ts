/**
 * Loading and saving the inventory. Reads parse the YAML into a Document (comments kept) and
 * validate it; writes happen only inside `updateInventory`, which holds an inter-process lock
 * (inventory/lock.ts: a lock file beside it naming its holder's PID), re-reads the file
 * under the lock, applies the change to the Document, validates the result and replaces the file
 * atomically (src/sys/atomic.ts: temp file, fsync, rename). A command that also writes generated
 * files registers their undo with onSaveFailure: when saving fails, they are undone too.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import jsyaml from 'js-yaml';
import { spliceEditsDetailed, type EditOp, type SpliceResult } from './yaml-splice.js';
import { readModelCache, writeModelCache } from './model-cache.js';
import type { Document, Node as YamlNode } from 'yaml';
import type { ZodError } from 'zod';
import { InventoryError } from '../sys/errors.js';
import { sweepTempFiles, writeFileAtomic } from '../sys/atomic.js';
import { assertLockHeld, withInventoryLock } from './lock.js';
import { decodeInventory, encodeInventory, type TextFormat } from './text.js';
import { ENTRY_NAME_CHECK, ENTRY_SCHEMAS, InventorySchema, crossIssues, knownKeysAt, type InventoryData } from './schema.js';
import { describeIssues } from './issues.js';
import { modelCheckIssues, type ModelCheck } from './model-checks.js';

export class Inventory {
  private document: Document | undefined;

  constructor(
    readonly path: string,
    private readonly text: string,
    public data: InventoryData,
    /** The rules over the whole model this inventory is validated with (the store's). */
    private readonly checks: readonly ModelCheck[],
    private readonly raw?: unknown,
    private readonly knownSiteKeys?: readonly string[],
  ) {}

  /**
   * The comment-preserving YAML Document, parsed on first use: only writers need it, and it costs
   * several times more than the fast read (js-yaml) that produced `data`.
   */
  get doc(): Document {
    if (!this.document) {
      // Duplicate keys were already refused by the read; skipping yaml's O(n^2) check halves the parse.
      this.document = yaml().parseDocument(this.text, { uniqueKeys: false });
      if (this.document.errors.length) throw yamlError(this.document.errors[0]!, this.path);
    }
    return this.document;
  }

  private effects: (() => Promise<void>)[] = [];

  /** The site keys the file itself gives (the others are the schema's defaults): for `show`'s sources. */
  get siteKeys(): ReadonlySet<string> {
    if (this.knownSiteKeys) return new Set(this.knownSiteKeys);
    const raw = (this.raw ?? readYaml(this.text, this.path)) as { site?: Record<string, unknown> } | null | undefined;
    return new Set(Object.keys(raw?.site ?? {}));
  }

  /** The site keys of the edited text (for the model cache written after a save). */
  siteKeysAfter(): string[] {
    if (!this.allOps.some((op) => op.path[0] === 'site')) return [...this.siteKeys];
    const raw = this.render().raw ?? readYaml(this.toString(), this.path);
    return Object.keys(((raw as { site?: Record<string, unknown> } | null)?.site) ?? {});
  }

  /**
   * Registers the undo of something done on disk as part of this edit (a generated file written
   * before the inventory is saved): run, newest first, when the inventory cannot be saved, so
   * that a failed command leaves neither files nor inventory changed.
   */
  onSaveFailure(undo: () => Promise<void>): void {
    this.effects.push(undo);
  }

  /** Runs the undos of onSaveFailure (updateInventory does, when saving fails). */
  async undoEffects(): Promise<void> {
    for (const undo of this.effects.reverse()) await undo().catch(() => undefined);
    this.effects = [];
  }

  /** Sets a value at a path, keeping comments everywhere (applied on toString/revalidate). */
  set(path: (string | number)[], value: unknown): void {
    if (value === undefined) return this.delete(path);
    const op: EditOp = { kind: 'set', path: path.map(String), value: structuredClone(value) };
    this.ops.push(op);
    this.allOps.push(op);
    this.pendingPaths.push(op.path);
    this.rendered = undefined;
  }

  delete(path: (string | number)[]): void {
    const op: EditOp = { kind: 'delete', path: path.map(String) };
    this.ops.push(op);
    this.allOps.push(op);
    this.pendingPaths.push(op.path);
    this.rendered = undefined;
  }

  /** Re-validates the edited text; throws InventoryError naming the path. */
  revalidate(): void {
    if (this.allOps.length === 0) return; // the data of the unedited text is valid already
    const r = this.render();
    if (this.validated === r) return;
    this.data = this.validateEdited(r.entries ?? (r.raw as Record<string, unknown>)) ?? validate(r.raw ?? readYaml(r.text, this.path), this.path, this.checks);
    this.validated = r;
  }

  /**
   * When every edit is inside named entries (guests.NAME..., clients.NAME..., images.NAME...),
   * only those entries are validated, then the rules between entries over the whole: the rest
   * of the file was valid and is unchanged. Undefined when the edits reach further (site, ...).
   */
  private validateEdited(raw: Record<string, unknown>): InventoryData | undefined {
    const touched = new Map<string, Set<string>>();
    for (const op of this.pendingPaths) {
      const [section, name] = op;
      if (!section || !name || !Object.hasOwn(ENTRY_SCHEMAS, section)) return undefined;
      if (!touched.has(section)) touched.set(section, new Set());
      touched.get(section)!.add(name);
    }
    if (touched.size === 0) return undefined;
    const next = { ...this.data } as Record<string, Record<string, unknown>> & InventoryData;
    for (const [section, names] of touched) {
      const rawSection = (raw[section] ?? {}) as Record<string, unknown>;
      const copy = { ...(next[section as keyof typeof ENTRY_SCHEMAS] as Record<string, unknown>) };
      for (const name of names) {
        const where = `${this.path}: ${section}.${name}`;
        const nameProblem = ENTRY_NAME_CHECK(name);
        if (nameProblem) throw new InventoryError(`${where}: ${nameProblem}`);
        if (!Object.hasOwn(rawSection, name) || rawSection[name] === undefined) {
          delete copy[name];
          continue;
        }
        const parsed = ENTRY_SCHEMAS[section as keyof typeof ENTRY_SCHEMAS].safeParse(rawSection[name]);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ ...i, path: [section, name, ...i.path] }));
          throw new InventoryError(`${this.path}: ${describeIssues(issues, raw, knownKeysAt)}`);
        }
        copy[name] = parsed.data;
      }
      (next as Record<string, unknown>)[section] = copy;
    }
    const issue = crossIssues(next)[0];
    if (issue) throw new InventoryError(`${this.path}: ${issue.path.join('.')}: ${issue.message}`);
    const rule = modelCheckIssues(this.checks, next)[0];
    if (rule) throw new InventoryError(`${this.path}: ${rule.path.join('.')}: ${rule.message}`, { hint: 'shorten the append arguments of the image, group or node' });
    return next;
  }

  private pendingPaths: string[][] = [];

  private validated: unknown;

  toString(): string {
    return this.render().text;
  }

  /** Edits not yet applied to the Document (the full path applies and clears them). */
  private ops: EditOp[] = [];
  /** Every edit since the file was read, in order. */
  private allOps: EditOp[] = [];
  /** Once the full Document path has been taken, every later render takes it too. */
  private full = false;
  private rendered: Rendered | undefined;

  /**
   * Applies the edits: first the fast line splice (yaml-splice.ts), accepted only if every entry
   * it touched reads back exactly as intended (the rest of the text is unchanged byte for byte);
   * otherwise the full comment-preserving Document, checked against the whole intended data.
   */
  private render(): Rendered {
    if (this.rendered) return this.rendered;
    if (this.allOps.length === 0) return (this.rendered = { text: this.text, ...(this.raw !== undefined ? { raw: this.raw } : {}) });
    if (!this.full) {
      const fast = spliceEditsDetailed(this.text, this.allOps);
      const entries = fast ? verifySplice(fast, this.allOps, this.path) : undefined;
      if (fast && entries) return (this.rendered = { text: fast.text, entries });
    }
    this.full = true;
    const doc = this.doc;
    for (const op of this.ops) {
      if (op.kind === 'delete') doc.deleteIn(op.path);
      else {
        ensureMaps(doc, op.path.slice(0, -1));
        doc.setIn(op.path, doc.createNode(op.value));
      }
    }
    this.ops = [];
    const text = doc.toString({ lineWidth: 0 });
    this.rendered = { text, raw: readYaml(text, this.path) };
    return this.rendered;
  }
}

interface Rendered {
  text: string;
  /** The whole data read back (full path), or... */
  raw?: unknown;
  /** ...the touched entries read back, by section (fast path; undefined: deleted). */
  entries?: Record<string, Record<string, unknown>>;
}

/**
 * The check of a fast splice: each touched entry's new block reads back as its old block with the
 * edits applied. Blocks are parsed a section at a time (one parse for 10,000 new entries).
 * Returns the touched entries as read back, or undefined (the full path takes over).
 */
function verifySplice(r: SpliceResult, ops: EditOp[], file: string): Record<string, Record<string, unknown>> | undefined {
  const bySection = new Map<string, { before: string[]; after: string[]; keys: string[] }>();
  for (const t of r.touched.values()) {
    const s = bySection.get(t.section) ?? { before: [], after: [], keys: [] };
    if (t.before !== undefined) s.before.push(t.before);
    if (t.after !== undefined) s.after.push(t.after);
    s.keys.push(t.key);
    bySection.set(t.section, s);
  }
  const out: Record<string, Record<string, unknown>> = {};
  try {
    for (const [section, s] of bySection) {
      const before = (readYaml(s.before.join(''), file) ?? {}) as Record<string, unknown>;
      const after = (readYaml(s.after.join(''), file) ?? {}) as Record<string, unknown>;
      const intended: Record<string, unknown> = {};
      for (const k of s.keys) if (Object.hasOwn(before, k)) intended[k] = before[k];
      for (const op of ops) {
        if (op.path[0] !== section) continue;
        if (op.kind === 'set') setPath(intended, op.path.slice(1), op.value);
        else deletePath(intended, op.path.slice(1));
      }
      if (!isDeepStrictEqual(after, intended)) return undefined;
      const entries: Record<string, unknown> = {};
      for (const k of s.keys) entries[k] = Object.hasOwn(after, k) ? after[k] : undefined;
      out[section] = entries;
    }
  } catch {
    return undefined;
  }
  return out;
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = structuredClone(value);
}

function deletePath(obj: Record<string, unknown>, path: string[]): void {
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur !== null && typeof cur === 'object') delete (cur as Record<string, unknown>)[path[path.length - 1]!];
}

/** Creates missing parent maps so that setIn works on `guests.NAME.key` in a fresh file. */
function ensureMaps(doc: Document, path: (string | number)[]): void {
  for (let i = 1; i <= path.length; i++) {
    const sub = path.slice(0, i);
    const node = doc.getIn(sub, true) as YamlNode | undefined;
    if (node === undefined || node === null || (!yaml().isMap(node) && (node as { value?: unknown }).value === null)) {
      doc.setIn(sub, doc.createNode({}));
    }
  }
}

/** `FILE: PATH: what is wrong and what is accepted` for a failed validation of `raw`. */
function formatIssues(err: ZodError, file: string, raw: unknown): string {
  return `${file}: ${describeIssues(err.issues, raw, knownKeysAt)}`;
}

function validate(raw: unknown, file: string, checks: readonly ModelCheck[]): InventoryData {
  if (raw === null || raw === undefined) throw new InventoryError(`${file}: the inventory is empty`, { hint: 'run `xenroot init` to create one' });
  const parsed = InventorySchema.safeParse(raw);
  if (!parsed.success) {
    throw new InventoryError(formatIssues(parsed.error, file, raw), {
      hint: 'fix the file by hand or with xenroot commands; `xenroot show` and `xenroot image show` print what is there',
    });
  }
  // The rules the store was opened with (model-checks.ts): what a consumer of a value would refuse.
  const issue = modelCheckIssues(checks, parsed.data)[0];
  if (issue) throw new InventoryError(`${file}: ${issue.path.join('.')}: ${issue.message}`, { hint: 'shorten the append arguments of the image, group or node' });
  return parsed.data;
}

function yamlError(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }, file: string): InventoryError {
  const pos = e.linePos?.[0];
  return new InventoryError(`${file}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML syntax error: ${e.message.split('\n')[0]}`);
}

/** The fast read: js-yaml (YAML 1.2 core), which also refuses duplicate keys. */
function readYaml(text: string, file: string): unknown {
  try {
    return jsyaml.load(text, { filename: file, schema: jsyaml.CORE_SCHEMA });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number }; message: string };
    const where = e.mark ? `:${e.mark.line + 1}:${e.mark.column + 1}` : '';
    throw new InventoryError(`${file}${where}: YAML syntax error: ${e.reason ?? e.message.split('\n')[0]}`);
  }
}

function parseInventoryText(text: string, file: string, checks: readonly ModelCheck[]): Inventory {
  const raw = readYaml(text, file);
  return new Inventory(file, text, validate(raw, file, checks), checks, raw);
}

/**
 * The inventory of `text`: its model from the cache (model-cache.ts) when it holds this text,
 * else read and validated in full, and cached for the next command.
 */
function inventoryOf(text: string, file: string, checks: readonly ModelCheck[]): Inventory {
  const hit = readModelCache(file, text);
  if (hit) return new Inventory(file, text, hit.data, checks, undefined, hit.siteKeys);
  const inv = parseInventoryText(text, file, checks);
  writeModelCache(file, text, inv.data, inv.siteKeys);
  return inv;
}

async function readText(file: string): Promise<{ text: string; format: TextFormat }> {
  try {
    return decodeInventory(await readFile(file), file);
  } catch (err) {
    if (err instanceof InventoryError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new InventoryError(`${file}: no inventory there`, {
        hint: 'create one with `xenroot init`, or point at yours with --inventory PATH or XENROOT_INVENTORY',
      });
    throw new InventoryError(`${file}: cannot read the inventory (${code ?? String(err)})`, { cause: err });
  }
}

/** Loads and validates the inventory for reading (no lock: writers replace the file atomically). */
async function loadInventory(file: string, checks: readonly ModelCheck[]): Promise<Inventory> {
  return inventoryOf((await readText(file)).text, file, checks);
}

/** yaml's Document API, loaded on first use: only edits the fast splice cannot do need it. */
function yaml(): typeof import('yaml') {
  return require('yaml') as typeof import('yaml');
}

const require = createRequire(import.meta.url);

/** The permission bits of an existing file (kept when it is replaced), else 0644. */
function modeOf(file: string): { mode: number; gid?: number } {
  const st = statSync(file, { throwIfNoEntry: false });
  // The group a site gave the inventory (init --group) is kept by every save.
  return { mode: (st?.mode ?? 0o600) & 0o7777, ...(st && st.gid !== process.getgid?.() ? { gid: st.gid } : {}) };
}

/**
 * Runs `fn` on the current inventory under the lock; if `fn` changed the document, validates and
 * saves it atomically. Returns what `fn` returns. Nothing is written when validation fails.
 */
async function updateInventory<T>(file: string, checks: readonly ModelCheck[], fn: (inv: Inventory) => T | Promise<T>): Promise<T> {
  return withInventoryLock(file, async () => {
    // A temp file of a writer killed with SIGKILL is recognised by its name and removed.
    sweepTempFiles(dirname(file));
    const { text: before, format } = await readText(file);
    const inv = inventoryOf(before, file, checks);
    let result: T;
    try {
      result = await fn(inv);
    } catch (err) {
      await inv.undoEffects();
      throw err;
    }
    const after = inv.toString();
    if (after !== before) {
      try {
        inv.revalidate();
        assertLockHeld(file);
        await writeFileAtomic(file, encodeInventory(after, format), modeOf(file));
      } catch (err) {
        await inv.undoEffects();
        throw err;
      }
      // The model just validated is the model of the saved text: the next command starts from it.
      writeModelCache(file, after, inv.data, inv.siteKeysAfter());
    }
    return result;
  });
}

/**
 * Creates a new inventory file from text, mode 0600 (it may hold per-node secrets), or 0640 owned
 * by group `gid` when the site names a group that may read it; refuses to replace an existing one.
 */
async function createInventory(file: string, text: string, checks: readonly ModelCheck[], gid?: number): Promise<Inventory> {
  const inv = parseInventoryText(text, file, checks);
  const { mkdir, stat } = await import('node:fs/promises');
  await mkdir(dirname(file), { recursive: true });
  return withInventoryLock(file, async () => {
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new InventoryError(`${file}: an inventory exists already`, { hint: 'edit it, or pick another path with --inventory' });
    await writeFileAtomic(file, text, gid === undefined ? { mode: 0o600 } : { mode: 0o640, gid });
    return inv;
  });
}

/** The inventory store opened with its rules over the whole model: the only way to read or write an inventory. */
export interface InventoryStore {
  /** Loads and validates the inventory for reading (no lock: writers replace the file atomically). InventoryError when missing, unreadable or invalid. */
  loadInventory(file: string): Promise<Inventory>;
  /** Validates `text` as the inventory at `file` (nothing read or written). InventoryError when invalid. */
  parseInventoryText(text: string, file: string): Inventory;
  /**
   * Runs `fn` on the current inventory under the lock; if `fn` changed the document, validates and
   * saves it atomically. Returns what `fn` returns. Nothing is written when validation fails.
   */
  updateInventory<T>(file: string, fn: (inv: Inventory) => T | Promise<T>): Promise<T>;
  /** Creates a new inventory file from text; refuses (InventoryError) to replace an existing one. */
  createInventory(file: string, text: string, gid?: number): Promise<Inventory>;
}

/**
 * Opens the store with `checks`, the rules over the whole validated model that a layer above the
 * inventory decides (the kernel command line limits of render/boot-limits.ts): every read, edit
 * and creation through it runs them after the schema and the cross rules. The ops layer opens it
 * once (ops/steps/store.ts) for every job.
 */
export function openInventoryStore(checks: readonly ModelCheck[]): InventoryStore {
  const rules = [...checks];
  return {
    loadInventory: (file) => loadInventory(file, rules),
    parseInventoryText: (text, file) => parseInventoryText(text, file, rules),
    updateInventory: (file, fn) => updateInventory(file, rules, fn),
    createInventory: (file, text, gid) => createInventory(file, text, rules, gid),
  };
}
