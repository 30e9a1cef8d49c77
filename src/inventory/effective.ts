/**
 * The effective value of every group-able setting of a node: its own value, else its group's,
 * else the site's, else xenroot's default (Warewulf's node-over-profile, Cobbler's
 * system-over-profile; one level deep). The one resolver: renderer inputs (render/guest-spec.ts,
 * deploy/plan.ts's client entries), the hypervisor URI of a guest and `xenroot show` all read
 * group-able values through it, never the raw fields.
 *
 * To make another field group-able: add it to GroupSchema (schema.ts) and to GROUPABLE below;
 * every consumer then gets it resolved, and `show` explains it. Pure.
 */
import { InventoryError } from '../sys/errors.js';
import type { Client, Group, Guest, InventoryData, Site } from './schema.js';

/** Where an effective value came from. */
export interface ValueSource {
  from: 'own' | 'group' | 'site' | 'default' | 'unset';
  /** from: group: which group. */
  group?: string;
  /** from: site or default: the site setting (site.bridge). */
  site?: string;
}

type FieldRule = { site?: keyof Site };

/** Every field a group may carry, per kind of node, and the site setting it falls back to after the group. */
const GROUPABLE = {
  client: { image: {}, append: {}, root: {} },
  guest: { image: {}, append: {}, connect: { site: 'connect' }, bridge: { site: 'bridge' } },
} as const satisfies Record<'client' | 'guest', Partial<Record<keyof Group, FieldRule>>>;

/** A client with its group's defaults applied: the image is always known (the schema's cross rule). */
export type EffectiveClient = Omit<Client, 'image'> & { image: string };
/** A guest with its group's and the site's defaults applied. */
export type EffectiveGuest = Omit<Guest, 'image' | 'bridge' | 'connect'> & { image: string; bridge: string; connect: string };

export interface Explained<T> {
  value: T;
  /** The source of each group-able field (fields without a value: from unset). */
  sources: Record<string, ValueSource>;
}

function groupOf(data: InventoryData, kind: string, name: string, node: { group?: string | undefined }): Group | undefined {
  if (node.group === undefined) return undefined;
  const groups = data.groups ?? {};
  if (!Object.hasOwn(groups, node.group)) throw new InventoryError(`${kind}s.${name}.group names group "${node.group}", which is not in groups`);
  return groups[node.group];
}

const RULES = {
  client: Object.entries(GROUPABLE.client) as [string, FieldRule][],
  guest: Object.entries(GROUPABLE.guest) as [string, FieldRule][],
};

/**
 * The node with every group-able field resolved: own > group > site (a site key is "site" when
 * the inventory file gives it, "default" when it is the schema's default; `siteKeys` lists the
 * keys the file gives, absent: every site value counts as the site's). Built without `delete`
 * (which would turn 10,000 node objects into slow dictionaries).
 */
function resolve(
  data: InventoryData,
  node: Record<string, unknown> & { group?: string | undefined },
  group: Group | undefined,
  kind: 'client' | 'guest',
  siteKeys: ReadonlySet<string> | undefined,
  explain: boolean,
): { value: Record<string, unknown>; sources: Record<string, ValueSource> } {
  // Parsed entries hold no undefined values: a copy of the node is its own values.
  const value: Record<string, unknown> = { ...node };
  const sources: Record<string, ValueSource> = {};
  if (!explain && group === undefined && kind === 'client') return { value, sources }; // nothing to resolve
  for (const [field, rule] of RULES[kind]) {
    const mine = node[field];
    const fromGroup = group ? (group as Record<string, unknown>)[field] : undefined;
    if (mine !== undefined) {
      value[field] = mine;
      if (explain) sources[field] = { from: 'own' };
    } else if (fromGroup !== undefined) {
      value[field] = fromGroup;
      if (explain) sources[field] = { from: 'group', group: node.group as string };
    } else if (rule.site !== undefined) {
      value[field] = data.site[rule.site];
      if (explain) sources[field] = { from: !siteKeys || siteKeys.has(rule.site) ? 'site' : 'default', site: `site.${rule.site}` };
    } else if (explain) sources[field] = { from: 'unset' };
  }
  return { value, sources };
}

/** The client `name` (or the given entry of it) with its group's defaults; InventoryError when it has no image at all. */
export function effectiveClient(data: InventoryData, name: string, client: Client = data.clients[name] as Client): EffectiveClient {
  return explainClient(data, name, client, undefined, false).value;
}

/** The guest `name` with its group's and the site's defaults. */
export function effectiveGuest(data: InventoryData, name: string, guest: Guest = data.guests[name] as Guest): EffectiveGuest {
  return explainGuest(data, name, guest, undefined, false).value;
}

/** effectiveClient with where each group-able value came from (`xenroot client show`). */
export function explainClient(data: InventoryData, name: string, client: Client = data.clients[name] as Client, siteKeys?: ReadonlySet<string>, explain = true): Explained<EffectiveClient> {
  if (client === undefined) throw new InventoryError(`no client named "${name}" in the inventory`);
  const { value, sources } = resolve(data, client, groupOf(data, 'client', name, client), 'client', siteKeys, explain);
  if (value.image === undefined) throw new InventoryError(`clients.${name}.image is not set, and it has no group with an image`);
  return { value: value as EffectiveClient, sources };
}

/** effectiveGuest with where each group-able value came from (`xenroot show`). */
export function explainGuest(data: InventoryData, name: string, guest: Guest = data.guests[name] as Guest, siteKeys?: ReadonlySet<string>, explain = true): Explained<EffectiveGuest> {
  if (guest === undefined) throw new InventoryError(`no guest named "${name}" in the inventory`);
  const { value, sources } = resolve(data, guest, groupOf(data, 'guest', name, guest), 'guest', siteKeys, explain);
  if (value.image === undefined) throw new InventoryError(`guests.${name}.image is not set, and it has no group with an image`);
  return { value: value as EffectiveGuest, sources };
}

/** Every client of the inventory, effective, in inventory order. */
export function effectiveClients(data: InventoryData): [string, EffectiveClient][] {
  return Object.entries(data.clients).map(([name, c]) => [name, effectiveClient(data, name, c)]);
}

/** The clients and guests that name a group. */
export function groupMembers(data: InventoryData, group: string): { clients: string[]; guests: string[] } {
  return {
    clients: Object.entries(data.clients).filter(([, c]) => c.group === group).map(([n]) => n),
    guests: Object.entries(data.guests).filter(([, g]) => g.group === group).map(([n]) => n),
  };
}

/** The images the clients boot (own, else their group's): what sync must stage. Cheaper than effectiveClients. */
export function clientImages(data: InventoryData): Set<string> {
  const used = new Set<string>();
  const groups = data.groups ?? {};
  for (const name in data.clients) {
    const c = data.clients[name] as Client;
    const image = c.image ?? (c.group !== undefined ? groups[c.group]?.image : undefined);
    if (image !== undefined) used.add(image);
  }
  return used;
}
