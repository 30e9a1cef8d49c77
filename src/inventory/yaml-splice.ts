/**
 * Fast comment-preserving edits of the inventory's YAML text, for large inventories.
 *
 * The `yaml` library's Document keeps every comment but parsing and re-serialising a file of
 * thousands of entries costs hundreds of milliseconds. The inventory's shape is simple (top-level
 * block maps of named entries), so an edit of one entry only needs that entry's lines: they are
 * cut out, edited as a small yaml Document, and put back; a new entry is appended to its section.
 *
 * This is only the fast path. The caller (store.ts) re-reads the result and compares it with the
 * intended data; any difference, or any text this code does not recognise (flow style, anchors,
 * tabs, document markers), sends the edit to the full Document path instead. Returns undefined
 * when it cannot apply the edit.
 */
import { createRequire } from 'node:module';
import jsyaml from 'js-yaml';

// yaml (the comment-keeping Document) is loaded only when an existing entry is edited: appending
// a new entry, the common case, needs only js-yaml, which the read has loaded anyway.
const require = createRequire(import.meta.url);
const yaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');

export type EditOp = { kind: 'set'; path: string[]; value: unknown } | { kind: 'delete'; path: string[] };

const SIMPLE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

function isBlankOrComment(line: string): boolean {
  const t = line.trim();
  return t === '' || t.startsWith('#');
}

interface Range {
  start: number;
  end: number; // exclusive
}

/** The body lines of a top-level section `name:` (block style), or undefined. */
function findSection(lines: string[], name: string): { header: number; body: Range } | undefined {
  const headerRe = new RegExp(`^${name}:\\s*(#.*)?$`);
  const header = lines.findIndex((l) => headerRe.test(l));
  if (header < 0) return undefined;
  let end = header + 1;
  while (end < lines.length && !/^\S/.test(lines[end]!)) end++;
  // Comment lines at column 0 just before the next section belong to that section.
  while (end > header + 1 && /^#/.test(lines[end - 1]!)) end--;
  while (end > header + 1 && lines[end - 1]!.trim() === '') end--;
  return { header, body: { start: header + 1, end } };
}

function sectionIndent(lines: string[], body: Range): number {
  for (let i = body.start; i < body.end; i++) if (!isBlankOrComment(lines[i]!)) return indentOf(lines[i]!);
  return 2;
}

function reindent(text: string, n: number): string[] {
  const pad = ' '.repeat(n);
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((l) => (l === '' ? l : pad + l));
}

/** One entry of a section as the index found it: its key line, its block end, its leading comments. */
interface IndexedEntry {
  start: number;
  end: number;
  lead: number;
}

interface IndexedSection {
  body: Range;
  indent: number;
  entries: Map<string, IndexedEntry>;
}

const KEY_LINE = /^( *)("([^"\\]*)"|'([^']*)'|([^\s:#'"?\-][^:#]*?)):(\s|$)/;

/**
 * Indexes the entries of a section in one pass: every line at the section's indentation must
 * be a `key:` line (else undefined: the full path handles it). Entry ranges follow findEntry.
 */
function indexSection(lines: string[], name: string): IndexedSection | undefined {
  const sec = findSection(lines, name);
  if (!sec) return undefined;
  const indent = sectionIndent(lines, sec.body);
  const entries = new Map<string, IndexedEntry>();
  const starts: { key: string; at: number }[] = [];
  for (let i = sec.body.start; i < sec.body.end; i++) {
    const l = lines[i]!;
    if (isBlankOrComment(l)) continue;
    const ind = indentOf(l);
    if (ind < indent) return undefined;
    if (ind > indent) continue;
    const m = KEY_LINE.exec(l);
    if (!m) return undefined;
    const key = m[3] ?? m[4] ?? (m[5] as string).trimEnd();
    if (entries.has(key)) return undefined;
    starts.push({ key, at: i });
    entries.set(key, { start: i, end: i + 1, lead: i });
  }
  starts.forEach(({ key, at }, n) => {
    const limit = n + 1 < starts.length ? starts[n + 1]!.at : sec.body.end;
    let e = limit;
    // Trailing comments at entry level or shallower, and blank lines, belong to what follows.
    while (e > at + 1 && (lines[e - 1]!.trim() === '' || (lines[e - 1]!.trim().startsWith('#') && indentOf(lines[e - 1]!) <= indent))) e--;
    let lead = at;
    const floor = n > 0 ? entries.get(starts[n - 1]!.key)!.end : sec.body.start;
    while (lead > floor && lines[lead - 1]!.trim().startsWith('#') && indentOf(lines[lead - 1]!) === indent) lead--;
    entries.set(key, { start: at, end: e, lead });
  });
  return { body: sec.body, indent, entries };
}

/** The block of an entry without its indentation, or undefined when a line sits left of it. */
function dedent(block: string[], indent: number): string | undefined {
  const out: string[] = [];
  for (const l of block) {
    if (l.trim() === '') out.push('');
    else if (indentOf(l) >= indent) out.push(l.slice(indent));
    else if (l.trim().startsWith('#')) out.push('');
    else return undefined;
  }
  return out.join('\n') + '\n';
}

/** A scalar written on one line the way js-yaml writes it, or undefined (not a plain scalar). */
function scalarText(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return Number.isFinite(value as number) || typeof value === 'boolean' ? String(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const dumped = jsyaml.dump(value, { lineWidth: -1, schema: jsyaml.CORE_SCHEMA }).replace(/\n$/, '');
  return dumped.includes('\n') ? undefined : dumped;
}

/**
 * Sets or deletes the scalar field FIELD of a block-style entry (its lines as in the file) by
 * changing its one line: the common edit of a large inventory (a rollout sets `revision` and
 * `previousRevision` on thousands of nodes), which the small-Document path costs a parse and a
 * serialisation each. Undefined when the entry is not a plain block map, the field spans more than
 * one line or carries a comment, or the value is not a one-line scalar: the Document path does
 * those. The caller's read-back check covers this path like the other.
 */
function scalarFieldEdit(lines: string[], field: string, op: EditOp): string[] | undefined {
  const text = op.kind === 'set' ? scalarText(op.value) : '';
  if (text === undefined || !/:\s*$/.test(lines[0] ?? '')) return undefined;
  const own = indentOf(lines[0]!);
  const first = lines.findIndex((l, i) => i > 0 && !isBlankOrComment(l));
  const fi = first < 0 ? -1 : indentOf(lines[first]!);
  if (fi <= own) return undefined;
  const at = lines.findIndex((l, i) => i > 0 && indentOf(l) === fi && (l.slice(fi).startsWith(`${field}:`) || l.slice(fi).startsWith(`'${field}'`) || l.slice(fi).startsWith(`"${field}"`)));
  if (at >= 0) {
    const l = lines[at]!;
    if (!l.slice(fi).startsWith(`${field}: `) && l.slice(fi) !== `${field}:`) return undefined; // quoted key: the Document path
    if (l.includes('#')) return undefined;
    const next = lines.findIndex((x, i) => i > at && !isBlankOrComment(x));
    if (next > at && indentOf(lines[next]!) > fi) return undefined; // a nested block or a continued scalar
    if (l.slice(fi) === `${field}:`) return undefined;
    const out = [...lines];
    if (op.kind === 'delete') out.splice(at, 1);
    else out[at] = `${' '.repeat(fi)}${field}: ${text}`;
    return out;
  }
  if (op.kind === 'delete') return [...lines];
  let last = lines.length - 1;
  while (last > 0 && isBlankOrComment(lines[last]!)) last--;
  const out = [...lines];
  out.splice(last + 1, 0, `${' '.repeat(fi)}${field}: ${text}`);
  return out;
}

/** An entry touched by the edits: its block before and after (dedented; undefined: absent). */
export interface TouchedEntry {
  section: string;
  key: string;
  before?: string;
  after?: string;
}

export interface SpliceResult {
  text: string;
  /** Every entry an edit touched, by `section\0key`. */
  touched: Map<string, TouchedEntry>;
}

interface EntryState {
  section: string;
  key: string;
  indent: number;
  /** The entry's lines now (undefined: deleted or never there). */
  lines: string[] | undefined;
  original: IndexedEntry | undefined;
  before: string | undefined;
}

/**
 * Applies the edits in one pass over the text (each section indexed once, so 10,000 edits cost
 * about as much as one): whole entries are added at the end of their section, replaced or
 * deleted (with the comment lines directly above them); a key inside an entry is set or deleted
 * on that entry alone as a small Document (its comments kept). Returns the new text and, for the
 * caller's check, each touched entry's block before and after; undefined when any edit needs
 * the full Document (text this code does not recognise, a missing section, a deep edit of an
 * entry that does not exist).
 */
export function spliceEditsDetailed(text: string, ops: EditOp[]): SpliceResult | undefined {
  if (/^(---|\.\.\.|%)/m.test(text) || /[&*!][A-Za-z0-9]/.test(text.replace(/#.*$/gm, '').replace(/'[^'\n]*'|"[^"\n]*"/g, ''))) return undefined;
  // A block scalar that keeps its trailing newlines (|+, >+) would swallow what follows it.
  if (/:\s*[|>][1-9]?\+\s*(#.*)?$/m.test(text) || text.includes('\t')) return undefined;
  const lines = text.split('\n');
  const sections = new Map<string, IndexedSection>();
  const states = new Map<string, EntryState>();
  const added = new Map<string, string[]>(); // section -> keys appended, in order
  for (const op of ops) {
    const [section, key, ...rest] = op.path;
    if (!section || !key || !SIMPLE_KEY.test(key) || rest.some((k) => !SIMPLE_KEY.test(k))) return undefined;
    let sec = sections.get(section);
    if (!sec) {
      sec = indexSection(lines, section);
      if (!sec) return undefined;
      sections.set(section, sec);
    }
    const id = `${section}\0${key}`;
    let st = states.get(id);
    if (!st) {
      const original = sec.entries.get(key);
      const block = original ? lines.slice(original.start, original.end) : undefined;
      const before = block ? dedent(block, sec.indent) : undefined;
      if (block && before === undefined) return undefined;
      st = { section, key, indent: sec.indent, lines: block, original, before };
      states.set(id, st);
    }
    if (op.kind === 'delete' && rest.length === 0) {
      st.lines = undefined;
      continue;
    }
    if (st.lines === undefined) {
      if (op.kind === 'delete') continue; // nothing to delete
      if (rest.length) return undefined; // deep set into a missing entry: let the full path do it
      st.lines = reindent(jsyaml.dump({ [key]: op.value }, { lineWidth: -1, schema: jsyaml.CORE_SCHEMA }), sec.indent);
      if (!st.original && !added.get(section)?.includes(key)) added.set(section, [...(added.get(section) ?? []), key]);
      continue;
    }
    // A scalar field of the entry itself (`revision: 3`): one line changed, no Document at all.
    const line = rest.length === 1 ? scalarFieldEdit(st.lines, rest[0]!, op) : undefined;
    if (line) {
      st.lines = line;
      continue;
    }
    // Edit the entry as a small Document (dedented), then put it back.
    const dedented = dedent(st.lines, sec.indent);
    if (dedented === undefined) return undefined;
    const doc = yaml().parseDocument(dedented);
    if (doc.errors.length) return undefined;
    if (op.kind === 'delete') doc.deleteIn([key, ...rest]);
    else doc.setIn([key, ...rest], doc.createNode(op.value));
    st.lines = reindent(doc.toString({ lineWidth: 0 }), sec.indent);
  }
  // Put the text back together: replaced and deleted entries in place, added ones at the end of their section.
  const replace = new Map<number, { end: number; with: string[] }>();
  for (const st of states.values()) {
    if (!st.original) continue;
    const o = st.original;
    if (st.lines === undefined) replace.set(o.lead, { end: o.end, with: [] });
    else replace.set(o.start, { end: o.end, with: st.lines });
  }
  const appendAt = new Map<number, string[]>();
  for (const [section, keys] of added) {
    const at = sections.get(section)!.body.end;
    const block: string[] = [];
    for (const key of keys) block.push(...(states.get(`${section}\0${key}`)!.lines ?? []));
    appendAt.set(at, [...(appendAt.get(at) ?? []), ...block]);
  }
  const out: string[] = [];
  for (let i = 0; i <= lines.length; i++) {
    const app = appendAt.get(i);
    if (app) out.push(...app);
    if (i === lines.length) break;
    const r = replace.get(i);
    if (r) {
      out.push(...r.with);
      i = r.end - 1;
      continue;
    }
    out.push(lines[i]!);
  }
  const touched = new Map<string, TouchedEntry>();
  for (const [id, st] of states) {
    const t: TouchedEntry = { section: st.section, key: st.key };
    if (st.before !== undefined) t.before = st.before;
    if (st.lines !== undefined) {
      const after = dedent(st.lines, st.indent);
      if (after === undefined) return undefined;
      t.after = after;
    }
    touched.set(id, t);
  }
  return { text: out.join('\n'), touched };
}

/** Applies the edits to the text, or returns undefined if any of them needs the full path. */
export function spliceEdits(text: string, ops: EditOp[]): string | undefined {
  return spliceEditsDetailed(text, ops)?.text;
}


