/**
 * Naming nodes on the command line: a client by its name or by its MAC in any notation
 * (AA-BB-CC-DD-EE-FF, aa:bb:cc:dd:ee:ff, aabbccddeeff), several at once, and name ranges
 * (`lab-[01-40]`, names.ts). Guests likewise by name or pinned MAC. Pure lookups over the model.
 */
import { InventoryError } from '../sys/errors.js';
import { expandRange, isRange } from './names.js';
import type { InventoryData } from './schema.js';
import { parseMac } from './validate.js';

type NodeKind = 'client' | 'guest';

const macIndexes = new WeakMap<object, Map<string, string>>();

/** MAC -> name of one section (built once per model section object). */
function macIndex(data: InventoryData, kind: NodeKind): Map<string, string> {
  const section = (kind === 'client' ? data.clients : data.guests) as Record<string, { mac?: string | undefined }>;
  let index = macIndexes.get(section);
  if (!index) {
    index = new Map();
    for (const [name, node] of Object.entries(section)) if (node.mac) index.set(node.mac, name);
    macIndexes.set(section, index);
  }
  return index;
}

/** The name of the client or guest `ref` names (its name, else its MAC in any spelling), or undefined. */
export function findNodeRef(data: InventoryData, kind: NodeKind, ref: string): string | undefined {
  const section = kind === 'client' ? data.clients : data.guests;
  if (Object.hasOwn(section, ref)) return ref;
  const mac = parseMac(ref);
  return mac ? macIndex(data, kind).get(mac) : undefined;
}

const LIST_HINT = { client: '`xenroot client list` shows the clients', guest: '`xenroot list` shows the guests' };

/** The name of the node `ref` names; InventoryError `no client named or with MAC "X"` otherwise. */
export function requireNodeRef(data: InventoryData, kind: NodeKind, ref: string): string {
  const name = findNodeRef(data, kind, ref);
  if (name === undefined) throw new InventoryError(`no ${kind} named ${parseMac(ref) ? 'or with MAC ' : ''}"${ref}" in the inventory`, { hint: LIST_HINT[kind] });
  return name;
}

/**
 * The one node selector of the command line: the names of every node the references name, in the
 * order given, each once: names, MACs, name ranges (every name of a range must exist) and
 * comma-separated lists of them. Every reference is judged before the answer: InventoryError
 * naming all the references that name nothing (each with the range it came from), so a typo in
 * a list refuses the whole command before anything is done. UsageError for a malformed range.
 */
export function resolveNodeRefs(data: InventoryData, kind: NodeKind, refs: string[]): string[] {
  const out = new Set<string>();
  const unknown: string[] = [];
  for (const arg of refs) {
    for (const ref of splitRefs(arg)) {
      const names = isRange(ref) ? expandRange(ref) : [ref];
      for (const name of names) {
        const found = findNodeRef(data, kind, name);
        if (found !== undefined) out.add(found);
        else unknown.push(`"${name}"${name === ref ? '' : ` (from ${ref})`}`);
      }
    }
  }
  if (unknown.length === 1 && !unknown[0]!.includes(' (from ')) requireNodeRef(data, kind, unknown[0]!.slice(1, -1));
  if (unknown.length) {
    const shown = unknown.length > 10 ? [...unknown.slice(0, 10), `and ${unknown.length - 10} more`] : unknown;
    throw new InventoryError(`no ${kind} named ${shown.join(', ')} in the inventory`, { hint: LIST_HINT[kind] });
  }
  return [...out];
}

/** Splits `a,b,lab-[01-03,07]` at the commas outside brackets. */
function splitRefs(arg: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of arg) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}
