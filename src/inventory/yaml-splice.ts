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

/** The lines of entry `key` inside a section body (with its leading comments), or undefined. */
function findEntry(lines: string[], body: Range, key: string): { indent: number; block: Range; lead: number } | undefined {
  let indent = -1;
  for (let i = body.start; i < body.end; i++) {
    if (!isBlankOrComment(lines[i]!)) {
      indent = indentOf(lines[i]!);
      break;
    }
  }
  if (indent <= 0) return undefined;
  const keyRe = new RegExp(`^ {${indent}}(${key.replace(/[.]/g, '\\.')}|"${key.replace(/[.]/g, '\\.')}"|'${key.replace(/[.]/g, '\\.')}'):(\\s|$)`);
  const start = lines.slice(body.start, body.end).findIndex((l) => keyRe.test(l));
  if (start < 0) return undefined;
  const s = body.start + start;
  let e = s + 1;
  while (e < body.end && (isBlankOrComment(lines[e]!) || indentOf(lines[e]!) > indent)) e++;
  // Trailing comments at entry level or shallower, and blank lines, belong to what follows.
  while (e > s + 1 && (lines[e - 1]!.trim() === '' || (lines[e - 1]!.trim().startsWith('#') && indentOf(lines[e - 1]!) <= indent))) e--;
  let lead = s;
  while (lead > body.start && lines[lead - 1]!.trim().startsWith('#') && indentOf(lines[lead - 1]!) === indent) lead--;
  return { indent, block: { start: s, end: e }, lead };
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

function applyOne(lines: string[], op: EditOp): string[] | undefined {
  const [section, key, ...rest] = op.path;
  if (!section || !key || !SIMPLE_KEY.test(key) || rest.some((k) => !SIMPLE_KEY.test(k))) return undefined;
  const sec = findSection(lines, section);
  if (!sec) return undefined;
  const entry = findEntry(lines, sec.body, key);
  if (!entry) {
    if (op.kind === 'delete') return lines; // nothing to delete
    if (rest.length) return undefined; // deep set into a missing entry: let the full path do it
    // Append a new entry at the end of the section.
    const indent = sectionIndent(lines, sec.body);
    const block = reindent(jsyaml.dump({ [key]: op.value }, { lineWidth: -1, schema: jsyaml.CORE_SCHEMA }), indent);
    const at = sec.body.end;
    return [...lines.slice(0, at), ...block, ...lines.slice(at)];
  }
  if (op.kind === 'delete' && rest.length === 0) return [...lines.slice(0, entry.lead), ...lines.slice(entry.block.end)];
  // Edit the entry as a small Document (dedented), then put it back.
  const blockLines = lines.slice(entry.block.start, entry.block.end);
  if (blockLines.some((l) => l.includes('\t'))) return undefined;
  const dedented = blockLines.map((l) => (l.trim() === '' ? '' : l.slice(entry.indent))).join('\n') + '\n';
  const doc = yaml().parseDocument(dedented);
  if (doc.errors.length) return undefined;
  if (op.kind === 'delete') doc.deleteIn([key, ...rest]);
  else doc.setIn([key, ...rest], doc.createNode(op.value));
  const edited = reindent(doc.toString({ lineWidth: 0 }), entry.indent);
  return [...lines.slice(0, entry.block.start), ...edited, ...lines.slice(entry.block.end)];
}

/** Applies the edits to the text, or returns undefined if any of them needs the full path. */
export function spliceEdits(text: string, ops: EditOp[]): string | undefined {
  if (/^(---|\.\.\.|%)/m.test(text) || /[&*!][A-Za-z0-9]/.test(text.replace(/#.*$/gm, '').replace(/'[^'\n]*'|"[^"\n]*"/g, ''))) return undefined;
  let lines: string[] | undefined = text.split('\n');
  const bulk = ops.length > 8 ? applyFieldEdits(lines, ops) : undefined;
  if (bulk) return bulk.join('\n');
  for (const op of ops) {
    lines = applyOne(lines, op);
    if (!lines) return undefined;
  }
  return lines.join('\n');
}

/**
 * Many edits of fields inside existing entries of one section (a rollout moving thousands of
 * nodes): the section is scanned once, each entry is edited once (all its ops in one small
 * Document), and the entries are put back from the bottom up. Undefined when any op is of
 * another kind (the one-by-one path then takes them all).
 */
function applyFieldEdits(lines: string[], ops: EditOp[]): string[] | undefined {
  const bySection = new Map<string, EditOp[]>();
  for (const op of ops) bySection.set(op.path[0] ?? '', [...(bySection.get(op.path[0] ?? '') ?? []), op]);
  let out: string[] | undefined = lines;
  for (const [section, sectionOps] of bySection) {
    out = applySectionFieldEdits(out, section, sectionOps);
    if (!out) return undefined;
  }
  return out;
}

function applySectionFieldEdits(lines: string[], section: string, ops: EditOp[]): string[] | undefined {
  const byKey = new Map<string, EditOp[]>();
  for (const op of ops) {
    const [, key, ...rest] = op.path;
    if (!key || rest.length === 0 || !SIMPLE_KEY.test(key) || rest.some((k) => !SIMPLE_KEY.test(k))) return undefined;
    const list = byKey.get(key);
    if (list) list.push(op);
    else byKey.set(key, [op]);
  }
  const sec = findSection(lines, section);
  if (!sec) return undefined;
  const indent = sectionIndent(lines, sec.body);
  if (indent <= 0) return undefined;
  // Every entry of the section: its key line and its end (same rules as findEntry).
  const starts: { key: string; start: number }[] = [];
  for (let i = sec.body.start; i < sec.body.end; i++) {
    const l = lines[i]!;
    if (isBlankOrComment(l) || indentOf(l) !== indent) continue;
    const m = /^ *(?:"([^"]*)"|'([^']*)'|([^\s:'"]+)):(\s|$)/.exec(l);
    if (m) starts.push({ key: m[1] ?? m[2] ?? m[3]!, start: i });
  }
  const found = new Map<string, { block: Range }>();
  for (const { key, start } of starts) {
    if (!byKey.has(key) || found.has(key)) continue;
    const e = findEntry(lines, { start, end: sec.body.end }, key);
    if (!e || e.block.start !== start) return undefined;
    found.set(key, e);
  }
  if (found.size !== byKey.size) return undefined;
  const out = lines.slice();
  for (const [key, e] of [...found.entries()].sort(([, a], [, b]) => b.block.start - a.block.start)) {
    const blockLines = out.slice(e.block.start, e.block.end);
    if (blockLines.some((l) => l.includes('\t'))) return undefined;
    const quick = scalarFieldEdits(blockLines, indent, byKey.get(key)!);
    if (quick) {
      out.splice(e.block.start, e.block.end - e.block.start, ...quick);
      continue;
    }
    const doc = yaml().parseDocument(blockLines.map((l) => (l.trim() === '' ? '' : l.slice(indent))).join('\n') + '\n');
    if (doc.errors.length) return undefined;
    for (const op of byKey.get(key)!) {
      if (op.kind === 'delete') doc.deleteIn(op.path.slice(1));
      else doc.setIn(op.path.slice(1), doc.createNode(op.value));
    }
    out.splice(e.block.start, e.block.end - e.block.start, ...reindent(doc.toString({ lineWidth: 0 }), indent));
  }
  return out;
}

/**
 * Sets or deletes top-level scalar fields (numbers, plain words) of one entry's lines without a
 * Document: `  field: value` lines are replaced, removed or appended at the end of the entry.
 * Undefined when an op is anything else or the field's line is not a one-line plain scalar.
 */
function scalarFieldEdits(block: string[], indent: number, ops: EditOp[]): string[] | undefined {
  const childIndent = block.slice(1).find((l) => !isBlankOrComment(l));
  const ci = childIndent === undefined ? indent + 2 : indentOf(childIndent);
  if (ci <= indent || block[0]!.trimEnd().slice(indent).split(':').slice(1).join(':').trim() !== '') return undefined;
  const out = block.slice();
  for (const op of ops) {
    if (op.path.length !== 3) return undefined;
    const field = op.path[2]!;
    if (op.kind === 'set' && !(typeof op.value === 'number' || (typeof op.value === 'string' && /^[A-Za-z0-9_./-]+$/.test(op.value) && !/^(true|false|null|yes|no|on|off|~|[-+]?[\d.].*)$/i.test(op.value)))) return undefined;
    const re = new RegExp(`^ {${ci}}${field.replace(/[.]/g, '\\.')}:( .*)?$`);
    const at = out.findIndex((l) => re.test(l));
    if (at >= 0) {
      const next = out[at + 1];
      // The value must be on its line alone (no block scalar or nested map below it).
      if (next !== undefined && !isBlankOrComment(next) && indentOf(next) > ci) return undefined;
      if (/:\s*[|>&*!{[]/.test(out[at]!)) return undefined;
    }
    if (op.kind === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    const line = `${' '.repeat(ci)}${field}: ${String(op.value)}`;
    if (at >= 0) out[at] = line;
    else {
      let end = out.length;
      while (end > 1 && isBlankOrComment(out[end - 1]!)) end--;
      out.splice(end, 0, line);
    }
  }
  return out;
}
