/**
 * Applying imported rows (import.ts) to an open inventory (inside `updateInventory`): every row
 * is checked first (values by the schema's own rules, groups and images exist, no MAC or name
 * twice in the file or owned by another node), and only when every row passes are the edits made,
 * so the save is one atomic write and a bad line changes nothing.
 */
import { ClientSchema, type Client, type InventoryData } from './schema.js';
import type { Inventory } from './store.js';
import { throwProblems, type ImportProblem, type ImportRow } from './import.js';
import { defaultClientName } from './clients.js';
import { nextFreeNames } from './names.js';
import { checkName, NAME_RULE } from './validate.js';

export type ImportOutcome = 'added' | 'updated' | 'unchanged' | 'ignored';

export interface ImportLine {
  line: number;
  name: string;
  mac: string;
  outcome: ImportOutcome;
  /** updated: the fields that changed. */
  changed?: string[];
}

export interface ImportDefaults {
  /** Group for rows that name none. */
  group?: string;
  /** Image for new clients that get none from their row or group. */
  image?: string;
}

const FIELDS = ['mac', 'image', 'append', 'group', 'address'] as const;

/**
 * Checks every row against the inventory and returns what each would do, or throws an
 * InventoryError naming FILE:LINE of the first bad row (and the others in its hint). Pure.
 */
export function planImport(data: InventoryData, rows: ImportRow[], file: string, defaults: ImportDefaults = {}): { lines: ImportLine[]; entries: Map<string, Record<string, unknown>> } {
  const problems: ImportProblem[] = [];
  const bad = (line: number, message: string) => problems.push({ line, message });
  const groups = data.groups ?? {};
  const images = Object.keys(data.images);
  const macOwner = new Map<string, string>();
  for (const [n, g] of Object.entries(data.guests)) if (g.mac) macOwner.set(g.mac, `guest ${n}`);
  const clientByMac = new Map<string, string>();
  for (const [n, c] of Object.entries(data.clients)) clientByMac.set(c.mac, n);
  const seenName = new Map<string, number>();
  const seenMac = new Map<string, number>();
  const taken = (n: string) => Object.hasOwn(data.clients, n) || Object.hasOwn(data.guests, n) || seenName.has(n);
  const lines: ImportLine[] = [];
  const entries = new Map<string, Record<string, unknown>>();
  // Where each name pattern's search for a free name goes on (names are only ever taken here).
  const cursor = new Map<string, number>();
  const nextName = (pattern: string): string => {
    const name = nextFreeNames(pattern, taken, 1, cursor.get(pattern) ?? 1)[0]!;
    cursor.set(pattern, Number(/^\d+/.exec(name.slice(pattern.indexOf('{')))?.[0] ?? 0) + 1);
    return name;
  };

  for (const row of rows) {
    const v = row.values;
    if (row.ignore) {
      lines.push({ line: row.line, name: v.name ?? '', mac: row.mac, outcome: 'ignored' });
      continue;
    }
    const dupMac = seenMac.get(row.mac);
    if (dupMac !== undefined) bad(row.line, `MAC ${row.mac} is also on line ${dupMac}`);
    seenMac.set(row.mac, row.line);
    // A row's own group, else --group; an empty group cell takes an existing client out of its group.
    const groupName = v.group || defaults.group || undefined;
    if (groupName && !Object.hasOwn(groups, groupName)) {
      bad(row.line, `group "${groupName}" is not in the inventory (known: ${Object.keys(groups).join(', ') || 'none'})`);
      continue;
    }
    // Which client: the one named, else the one with this MAC, else a new one.
    let name = v.name || clientByMac.get(row.mac);
    if (!name) {
      const pattern = groupName ? groups[groupName]?.names : undefined;
      name = pattern ? nextName(pattern) : defaultClientName(row.mac);
    }
    if (checkName(name)) {
      bad(row.line, `name "${name}" is not valid: must be ${NAME_RULE}`);
      continue;
    }
    const dupName = seenName.get(name);
    if (dupName !== undefined) bad(row.line, `name "${name}" is also on line ${dupName}`);
    seenName.set(name, row.line);
    const old = Object.hasOwn(data.clients, name) ? (data.clients[name] as Client) : undefined;
    const entry: Record<string, unknown> = old ? { ...old } : {};
    entry.mac = row.mac;
    const setField = (k: 'image' | 'append' | 'address', value: string | undefined) => {
      if (value === undefined) return;
      if (value === '') delete entry[k];
      else entry[k] = value;
    };
    if (groupName) entry.group = groupName;
    else if (v.group === '') delete entry.group;
    setField('image', v.image);
    setField('append', v.append);
    setField('address', v.address);
    const group = typeof entry.group === 'string' ? groups[entry.group] : undefined;
    if (entry.image === undefined && group?.image === undefined) {
      const image = defaults.image ?? (images.length === 1 ? images[0] : undefined);
      if (image === undefined) {
        bad(row.line, `client ${name} gets no image: give an image column, --image, or a group that has one (the inventory has ${images.length} images)`);
        continue;
      }
      entry.image = image;
    }
    if (typeof entry.image === 'string' && !Object.hasOwn(data.images, entry.image)) {
      bad(row.line, `image "${entry.image}" is not in the inventory`);
      continue;
    }
    const checked = ClientSchema.safeParse(entry);
    if (!checked.success) {
      const i = checked.error.issues[0]!;
      bad(row.line, `${i.path.join('.') || 'entry'} ${JSON.stringify(i.path.length ? entry[i.path[0] as string] : entry)}: ${i.message}`);
      continue;
    }
    const owner = macOwner.get(row.mac) ?? (clientByMac.get(row.mac) !== undefined && clientByMac.get(row.mac) !== name ? `client ${clientByMac.get(row.mac)}` : undefined);
    if (owner) {
      bad(row.line, `MAC ${row.mac} is already used by ${owner}`);
      continue;
    }
    const outcome: ImportOutcome = !old ? 'added' : FIELDS.some((k) => old[k] !== entry[k]) ? 'updated' : 'unchanged';
    const line: ImportLine = { line: row.line, name, mac: row.mac, outcome };
    if (outcome === 'updated') line.changed = FIELDS.filter((k) => old?.[k] !== entry[k]);
    lines.push(line);
    if (outcome !== 'unchanged') entries.set(name, entry);
  }
  throwProblems(file, problems);
  return { lines, entries };
}

/** Makes the edits of a checked import: new clients whole, changed ones field by field (their comments stay). */
export function applyImport(inv: Inventory, entries: Map<string, Record<string, unknown>>): void {
  for (const [name, entry] of entries) {
    const old = Object.hasOwn(inv.data.clients, name) ? (inv.data.clients[name] as Record<string, unknown>) : undefined;
    if (!old) {
      inv.set(['clients', name], entry);
      continue;
    }
    for (const k of FIELDS) if (old[k] !== entry[k]) inv.set(['clients', name, k], entry[k]);
  }
}
