/**
 * Check-ins of physical clients with the boot service (`xenroot serve`): what a node reports when
 * its boot ends, the rules that decide whether a report may be believed, where the believed ones
 * are kept (one small file per node in the state directory, so they survive a restart), and what
 * `status` makes of them (last seen, revision booted against assigned, health).
 *
 * One file per node, replaced atomically and fsynced before the service answers 2xx: check-ins of
 * different nodes never touch the same file (no lock, no shared log to compact), a reader always
 * sees a whole record, and a SIGKILL between two check-ins loses neither. Each file keeps the
 * node's last boots (newest first, one entry per boot id), which is what a rollout waiting for a
 * canary and a page showing the fleet need.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../sys/atomic.js';
import { nodeAddress } from '../../inventory/identity.js';
import { imageRef } from '../../inventory/paths.js';
import { nodeImage } from '../../inventory/revisions.js';
import type { RevisionIndex } from '../../inventory/revisions.js';
import type { InventoryData } from '../../inventory/schema.js';
import { parseMac } from '../../inventory/validate.js';

/**
 * What a node may report as its state: the words of `systemctl is-system-running`, and `ready`
 * for the built-in initrd's marker on an image without systemd.
 */
const CHECKIN_STATES = ['initializing', 'starting', 'running', 'degraded', 'maintenance', 'stopping', 'offline', 'unknown', 'ready'] as const;

/**
 * The body of POST /checkin (JSON, at most CHECKIN_BODY_LIMIT bytes). Declared once: the service
 * turns it into the route's JSON Schema (zod's toJSONSchema), and the type below is its shape.
 */
export const CheckinBody = z
  .object({
    /** /proc/sys/kernel/random/boot_id: a new one every boot. */
    bootId: z.string().regex(/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/),
    /** The MAC the node booted with. */
    mac: z.string().regex(/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/),
    /** The published revision it booted (its mount's /IMAGE/REV), or null for the image's working directory. */
    revision: z.number().int().min(1).max(999_999_999).nullable(),
    /** The initrd builder that booted it: builtin, dracut, initramfs-tools, mkinitrd. */
    initrd: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
    /** uname -r. */
    kernel: z.string().regex(/^[A-Za-z0-9._+~-]{1,64}$/),
    state: z.enum(CHECKIN_STATES),
  })
  .strict();
export type CheckinBody = z.infer<typeof CheckinBody>;

/** The largest check-in body the service reads (bytes); a larger one is answered 413. */
export const CHECKIN_BODY_LIMIT = 1024;

/** One believed check-in: the report, whose node it is, when it came and from which address. */
export interface CheckinRecord extends CheckinBody {
  node: string;
  /** ISO 8601, the service's clock. */
  receivedAt: string;
  from: string;
}

/** A node's check-in file: its last boots, newest first. */
export interface NodeCheckins {
  version: 1;
  node: string;
  boots: CheckinRecord[];
}

/** How many boots a node's file keeps. */
const KEPT_BOOTS = 20;

/** Where the check-ins of an inventory live: STATE/checkins, STATE its state directory (inventory/paths.ts stateDir). */
export function checkinDir(state: string): string {
  return join(state, 'checkins');
}

function nodeFile(dir: string, node: string): string {
  return join(dir, `${node}.json`);
}

/** A node's check-ins as stored, or undefined when it never checked in (or its file is not a record). */
export function readNodeCheckins(dir: string, node: string): NodeCheckins | undefined {
  try {
    const rec = JSON.parse(readFileSync(nodeFile(dir, node), 'utf8')) as NodeCheckins;
    return rec.version === 1 && Array.isArray(rec.boots) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stores one check-in: the node's file with this boot first (a later report of the same boot
 * replaces its earlier one), written atomically and fsynced. Throws the DeployError of
 * sys/atomic.ts (its cause carries ENOSPC, EROFS, ...); the old file is then intact. Callers
 * serialise the writes of one node (the service chains them per node).
 */
export async function storeCheckin(dir: string, rec: CheckinRecord): Promise<NodeCheckins> {
  const old = readNodeCheckins(dir, rec.node);
  const boots = [rec, ...(old?.boots ?? []).filter((b) => b.bootId !== rec.bootId)].slice(0, KEPT_BOOTS);
  const next: NodeCheckins = { version: 1, node: rec.node, boots };
  await writeFileAtomic(nodeFile(dir, rec.node), JSON.stringify(next) + '\n', { mode: 0o600, mkdirs: true });
  return next;
}

/** Why a check-in (or any request that names a node) is not believed: the HTTP status and a one-line reason. */
export interface Refusal {
  status: number;
  reason: string;
  node?: string;
}

/** Where a request came from: its source address, and the MAC the neighbour table holds for it. */
export interface RequestSource {
  address: string;
  neighbourMac: string | undefined;
}

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) as `10.0.0.5`. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The client that `mac` belongs to, if the request comes from it: its reserved (static) address
 * where it has one, else the neighbour table's MAC for the source address must be `mac`.
 * Refusals: 404 for a MAC of no client, 403 for a request that cannot be shown to come from it.
 */
export function requestingClient(data: InventoryData, mac: string, source: RequestSource): { name: string } | Refusal {
  const want = parseMac(mac);
  const entry = want === undefined ? undefined : Object.entries(data.clients).find(([, c]) => c.mac === want);
  if (!entry) return { status: 404, reason: `no client has MAC ${mac}` };
  const [name, client] = entry;
  const from = plainAddress(source.address);
  const reserved = nodeAddress(data.site, client)?.ip;
  if (reserved !== undefined) {
    if (from !== reserved) return { status: 403, node: name, reason: `client ${name} (${want}) has the reserved address ${reserved}, the request came from ${from}` };
    if (source.neighbourMac !== undefined && source.neighbourMac !== want)
      return { status: 403, node: name, reason: `the neighbour table holds ${source.neighbourMac} for ${from}, not client ${name}'s ${want}` };
    return { name };
  }
  if (source.neighbourMac !== want)
    return { status: 403, node: name, reason: `client ${name} has no reserved address and the neighbour table holds ${source.neighbourMac ?? 'nothing'} for ${from}, not ${want}` };
  return { name };
}

/**
 * Judges a check-in: the client it names must be the requester (requestingClient), and the
 * revision it reports one the client can boot (a live published revision of its image, or none:
 * the working directory). Returns the record to store, or the refusal (403, 404, 422).
 */
export function judgeCheckin(data: InventoryData, indexes: Map<string, RevisionIndex>, body: CheckinBody, source: RequestSource, now = new Date()): CheckinRecord | Refusal {
  const who = requestingClient(data, body.mac, source);
  if ('status' in who) return who;
  const client = data.clients[who.name]!;
  const image = nodeImage(data, 'client', who.name, client);
  if (body.revision !== null) {
    const rec = indexes.get(image)?.revisions.find((r) => r.revision === body.revision);
    if (!rec || rec.prunedAt) return { status: 422, node: who.name, reason: `client ${who.name} reports revision ${body.revision} of ${image}, which is not a published revision it can boot` };
  }
  return { ...body, mac: parseMac(body.mac) as string, node: who.name, receivedAt: now.toISOString(), from: plainAddress(source.address) };
}

/** What status makes of a node's last check-in. */
export type Health = 'healthy' | 'degraded' | 'down' | 'never-seen';

/** healthy: running (systemd) or ready (built-in marker); down: it reported stopping or offline; degraded: anything else. */
export function healthOf(last: CheckinRecord | undefined): Health {
  if (!last) return 'never-seen';
  if (last.state === 'running' || last.state === 'ready') return 'healthy';
  if (last.state === 'stopping' || last.state === 'offline') return 'down';
  return 'degraded';
}

/** A client as status shows it from its check-ins. */
export interface ClientBootState {
  /** ISO 8601 of the last check-in, or null. */
  lastSeen: string | null;
  /** IMAGE@REV (or IMAGE) it booted last, or null. */
  booted: string | null;
  /** It booted something other than what it is assigned. */
  drift: boolean;
  health: Health;
  bootId: string | null;
  kernel: string | null;
}

/** The boot state of client `name` assigned `assigned` (IMAGE or IMAGE@REV), from its stored check-ins. */
export function clientBootState(data: InventoryData, name: string, rec: NodeCheckins | undefined): ClientBootState {
  const client = data.clients[name]!;
  const image = nodeImage(data, 'client', name, client);
  const last = rec?.boots[0];
  const booted = last ? imageRef(image, last.revision ?? undefined) : null;
  return {
    lastSeen: last?.receivedAt ?? null,
    booted,
    drift: booted !== null && booted !== imageRef(image, client.revision),
    health: healthOf(last),
    bootId: last?.bootId ?? null,
    kernel: last?.kernel ?? null,
  };
}

/** One refused request, kept for status: when, from where, what, the status and why. */
export interface RefusalRecord {
  at: string;
  from: string;
  path: string;
  status: number;
  reason: string;
  node?: string;
}

/** How many refusals the service keeps (the newest). */
const KEPT_REFUSALS = 200;

function refusalFile(dir: string): string {
  return join(dir, '.refusals.json');
}

/** The refusals the service recorded, newest first ([] when none). */
export function readRefusals(dir: string): RefusalRecord[] {
  try {
    const list = JSON.parse(readFileSync(refusalFile(dir), 'utf8')) as RefusalRecord[];
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** Adds refusals (newest first) to the kept list, atomically; the oldest beyond KEPT_REFUSALS go. */
export async function storeRefusals(dir: string, newest: RefusalRecord[]): Promise<void> {
  const list = [...newest, ...readRefusals(dir)].slice(0, KEPT_REFUSALS);
  await writeFileAtomic(refusalFile(dir), JSON.stringify(list) + '\n', { mode: 0o600, mkdirs: true });
}
