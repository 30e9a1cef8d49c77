/**
 * Fleet operations: `start|stop` over several guests at once (`--all`, `--host H`,
 * several names), with bounded parallelism: at most `parallel` guests at a time in all, at most
 * `perHost` at a time on one host (libvirtd serves at most 5 calls per client connection at once,
 * `max_client_requests`), one connection per host. A host that cannot be reached fails its own
 * guests at its connect timeout (5 s) and holds up no other host. Guests that need a host are
 * placed first, all together; boot files are shipped once per host before its guests start.
 */
import { hypervisorFor } from '../hypervisor/connect.js';
import { HypervisorCallError, classifyHypervisorMessage, isHostFailure } from '../hypervisor/errors.js';
import { guestStatus, type StatusRow } from './guest-status.js';
import type { Hypervisor } from '../hypervisor/types.js';
import { requireEntry } from '../inventory/lookup.js';
import type { Inventory } from './steps/store.js';
import { loadInventory } from './steps/store.js';
import { UsageError, XenrootError, isXenrootError } from '../sys/errors.js';
import { guestTarget, guestUri, hostOf, type HostOptions } from './steps/guest-host.js';
import { guestBootOnHost, shipsBootFiles } from './steps/host-boot.js';
import { placeGuestsOnHosts } from './steps/placement.js';
import { startGuest, type StartResult } from './start-guest.js';
import { stopGuest, type StopOptions, type StopResult } from './stop-guest.js';
import type { BootFile, ShippedFile } from '../hypervisor/boot-store.js';
import { resolveNodeRefs } from '../inventory/refs.js';

export interface Selection {
  all?: boolean;
  /** Guests on these inventory hosts. */
  hosts?: string[];
  /** Guests of these groups (their own `group:`). */
  groups?: string[];
  names?: string[];
}

/**
 * The guests a selection names, sorted, each once: names, MACs and name ranges through the one node
 * selector (inventory/refs.ts: resolveNodeRefs). UsageError when it names none; InventoryError for
 * an unknown host or group, or naming every unknown guest at once.
 */
export function selectGuests(inv: Inventory, sel: Selection): string[] {
  const out = new Set<string>();
  if (sel.all) for (const n of Object.keys(inv.data.guests)) out.add(n);
  for (const h of sel.hosts ?? []) {
    requireEntry(inv.data, 'host', h);
    for (const [n, g] of Object.entries(inv.data.guests)) if (g.host === h) out.add(n);
  }
  for (const g of sel.groups ?? []) {
    requireEntry(inv.data, 'group', g);
    for (const [n, guest] of Object.entries(inv.data.guests)) if (guest.group === g) out.add(n);
  }
  for (const n of resolveNodeRefs(inv.data, 'guest', sel.names ?? [])) out.add(n);
  if (!sel.all && !sel.hosts?.length && !sel.groups?.length && !sel.names?.length) throw new UsageError('name the guests: NAME..., --all, --host H or --group G');
  return [...out].sort();
}

export type NodeOutcome = 'ok' | 'skipped' | 'failed';

export interface NodeResult<T> {
  name: string;
  host: string | undefined;
  uri: string | undefined;
  outcome: NodeOutcome;
  /** How long its own step took, ms. */
  ms: number;
  /** When it ended, ms after the fleet command began (placement included). */
  atMs: number;
  result?: T;
  /** Why it was skipped or failed. */
  message?: string;
  hint?: string;
  exitCode?: number;
  /** Its boot files on its host as the fleet checked or shipped them before the starts (start only). */
  shipped?: ShippedFile[];
}

export interface FleetEvent {
  name: string;
  host: string | undefined;
  phase: 'waiting' | 'running' | NodeOutcome;
  detail?: string;
}

export interface FleetOptions extends HostOptions {
  /** Guests in progress at once, in all (default 8). */
  parallel?: number;
  /** Guests in progress at once on one host (default 4). */
  perHost?: number;
  onEvent?: (e: FleetEvent) => void;
  /** Progress lines (shipping). */
  say?: (line: string) => void;
}

export interface FleetSummary {
  ok: number;
  skipped: number;
  failed: number;
  ms: number;
}

/** A fleet operation in which some guests failed: exit code of the first failure. */
export class FleetFailedError extends XenrootError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, hint?: string) {
    super(message, hint ? { hint } : {});
    this.exitCode = exitCode;
  }
}

/** A counting semaphore. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function failure<T>(base: Pick<NodeResult<T>, 'name' | 'host' | 'uri' | 'atMs'>, t0: number, err: unknown, outcome: NodeOutcome = 'failed'): NodeResult<T> {
  const e = err as { message?: string; hint?: string; exitCode?: number };
  return { ...base, outcome, ms: Date.now() - t0, message: e?.message ?? String(err), ...(e?.hint ? { hint: e.hint } : {}), exitCode: isXenrootError(err) ? err.exitCode : 1 };
}

/**
 * Runs `job` for every guest, grouped by host URI, under the limits; never throws for one guest's
 * failure. `prepare(h, names)` runs once per host after connecting (shipping), before its guests.
 */
async function runFleet<T>(
  inventoryFile: string,
  names: string[],
  opts: FleetOptions,
  job: (name: string, h: Hypervisor) => Promise<T>,
  skip: (err: unknown) => boolean,
  prepare?: (inv: Inventory, h: Hypervisor, names: string[]) => Promise<Map<string, ShippedFile[]> | undefined>,
  began = Date.now(),
): Promise<NodeResult<T>[]> {
  const at = () => Date.now() - began;
  const inv = await loadInventory(inventoryFile);
  const byUri = new Map<string, string[]>();
  for (const n of names) {
    const uri = guestUri(inv, inv.data.guests[n]!, opts);
    byUri.set(uri, [...(byUri.get(uri) ?? []), n]);
  }
  const global = limiter(Math.max(1, opts.parallel ?? 8));
  const emit = (e: FleetEvent): void => opts.onEvent?.(e);
  const results: NodeResult<T>[] = [];
  await Promise.all(
    [...byUri].map(async ([uri, group]) => {
      const hostName = (n: string) => hostOf(inv, inv.data.guests[n]!, uri)?.name;
      const h = opts.hypervisor ?? hypervisorFor(uri);
      const t0 = Date.now();
      for (const n of group) emit({ name: n, host: hostName(n), phase: 'waiting' });
      let shipped: Map<string, ShippedFile[]> | undefined;
      try {
        await h.connect();
        shipped = await prepare?.(inv, h, group);
      } catch (err) {
        for (const n of group) {
          results.push(failure({ name: n, host: hostName(n), uri, atMs: at() }, t0, err));
          emit({ name: n, host: hostName(n), phase: 'failed', detail: (err as Error).message });
        }
        if (!opts.hypervisor) await h.close();
        return;
      }
      const perHost = limiter(Math.max(1, opts.perHost ?? 4));
      try {
        await Promise.all(
          group.map((n) =>
            perHost(() =>
              global(async () => {
                const base = { name: n, host: hostName(n), uri, ...(shipped?.has(n) ? { shipped: shipped.get(n) } : {}) };
                const t1 = Date.now();
                emit({ name: n, host: base.host, phase: 'running' });
                try {
                  const result = await job(n, h);
                  results.push({ ...base, outcome: 'ok', ms: Date.now() - t1, atMs: at(), result });
                  emit({ name: n, host: base.host, phase: 'ok' });
                } catch (err) {
                  const r = failure<T>({ ...base, atMs: at() }, t1, err, skip(err) ? 'skipped' : 'failed');
                  results.push(r);
                  emit({ name: n, host: base.host, phase: r.outcome, detail: r.message });
                }
              }),
            ),
          ),
        );
      } finally {
        if (!opts.hypervisor) await h.close();
      }
    }),
  );
  return results.sort((a, b) => a.name.localeCompare(b.name));
}

export function summarize<T>(rows: NodeResult<T>[], ms: number): FleetSummary {
  return { ok: rows.filter((r) => r.outcome === 'ok').length, skipped: rows.filter((r) => r.outcome === 'skipped').length, failed: rows.filter((r) => r.outcome === 'failed').length, ms };
}

/** Ships the boot files of a host's guests once (deduplicated by volume name), before they start. */
async function shipForHost(inv: Inventory, h: Hypervisor, names: string[], opts: FleetOptions): Promise<Map<string, ShippedFile[]> | undefined> {
  if (!h.bootStore) return undefined;
  const files = new Map<string, BootFile>();
  const byGuest = new Map<string, string[]>();
  let dir: string | undefined;
  for (const n of names) {
    const host = hostOf(inv, inv.data.guests[n]!, h.uri);
    if (!host || !shipsBootFiles(host.host)) continue;
    dir = host.host.bootDir;
    const boot = await guestBootOnHost(inv.data, n, host.host, guestTarget(h, opts), true);
    for (const f of boot?.files ?? []) files.set(f.name, f);
    byGuest.set(n, boot?.files.map((f) => f.name) ?? []);
  }
  if (!dir || !files.size) return undefined;
  const done = new Map((await h.bootStore(dir).ship([...files.values()], opts.say)).map((f) => [f.name, f]));
  return new Map([...byGuest].map(([n, fs]) => [n, fs.map((f) => done.get(f)!).filter(Boolean)]));
}

export interface FleetStartResult {
  nodes: NodeResult<StartResult>[];
  summary: FleetSummary;
}

/** Starts the selected guests: placement of those that need a host, shipping per host, then starts in parallel. */
export async function fleetStart(inventoryFile: string, sel: Selection, opts: FleetOptions = {}): Promise<FleetStartResult> {
  const t0 = Date.now();
  const names = selectGuests(await loadInventory(inventoryFile), sel);
  const placements = await placeGuestsOnHosts(inventoryFile, names, opts);
  const refused = new Map(placements.filter((p) => p.host === undefined).map((p) => [p.guest, p.reason ?? 'no host answered']));
  const nodes: NodeResult<StartResult>[] = [...refused].map(([name, reason]) => ({
    name,
    host: undefined,
    uri: undefined,
    outcome: 'failed' as const,
    ms: Date.now() - t0,
    atMs: Date.now() - t0,
    message: `no inventory host can take guest '${name}': ${reason}`,
    exitCode: 5,
  }));
  nodes.push(
    ...(await runFleet(
      inventoryFile,
      names.filter((n) => !refused.has(n)),
      opts,
      (n, h) => startGuest(inventoryFile, n, { ...opts, hypervisor: h }),
      (err) => err instanceof HypervisorCallError && err.reason === 'already-running',
      (inv, h, group) => shipForHost(inv, h, group, opts),
      t0,
    )),
  );
  // Placed by this command (above), before startGuest saw them with a host.
  const placedNow = new Set(placements.filter((p) => p.host !== undefined).map((p) => p.guest));
  for (const n of nodes) if (n.result && placedNow.has(n.name)) n.result.placement = 'placed';
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  return { nodes, summary: summarize(nodes, Date.now() - t0) };
}

export interface FleetStopResult {
  nodes: NodeResult<StopResult>[];
  summary: FleetSummary;
}

/** Stops the selected guests in parallel (graceful, or destroy with force). */
export async function fleetStop(inventoryFile: string, sel: Selection, opts: FleetOptions & Omit<StopOptions, keyof HostOptions> = {}): Promise<FleetStopResult> {
  const t0 = Date.now();
  const names = selectGuests(await loadInventory(inventoryFile), sel);
  const nodes = await runFleet(inventoryFile, names, opts, (n, h) => stopGuest(inventoryFile, n, { ...opts, hypervisor: h }), () => false, undefined, t0);
  return { nodes, summary: summarize(nodes, Date.now() - t0) };
}

/** Throws FleetFailedError when any node failed (after the caller printed the results). */
export function assertFleetOk<T>(verb: string, nodes: NodeResult<T>[]): void {
  const failed = nodes.filter((n) => n.outcome === 'failed');
  if (!failed.length) return;
  const first = failed[0]!;
  const hostDown = failed.filter((f) => f.message && (isHostFailure(classifyHypervisorMessage(f.message)) || /did not answer/.test(f.message))).length;
  throw new FleetFailedError(
    `${verb}: ${failed.length} of ${nodes.length} guest${nodes.length === 1 ? '' : 's'} failed (${failed.map((f) => f.name).join(', ')})`,
    first.exitCode ?? 5,
    hostDown ? 'the lines above say which host did not answer; the others were not held up' : first.hint,
  );
}


/** `status` over a selection (several names, --host H); --all is plain `guestStatus`. */
export async function fleetStatus(inventoryFile: string, sel: Selection, opts: HostOptions = {}): Promise<StatusRow[]> {
  const names = selectGuests(await loadInventory(inventoryFile), sel);
  return guestStatus(inventoryFile, names, opts);
}
