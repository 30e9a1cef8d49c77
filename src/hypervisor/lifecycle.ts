/**
 * Guest lifecycle on the inventory: start (with first-boot MAC pinning), stop, status, define,
 * undefine, console. The CLI modules only parse and print around these functions.
 *
 * Which host: --connect > $XENROOT_CONNECT > the guest's `connect:` > the site's `connect`.
 * Which domain flavour: --target, else from the URI (xen:// gets the Xen PV XML, qemu:// and
 * test:// the QEMU test-domain XML); the xl driver (xl://) runs NAME.cfg.
 *
 * Renderers, the guest-file writer, the pinning writer and the console load lazily: `status`
 * over many guests needs none of them, and xmlbuilder2 alone costs a noticeable start-up.
 */
import { existsSync } from 'node:fs';
import { HypervisorError, TimeoutError } from '../errors.js';
import { guestFiles } from '../inventory/paths.js';
import type { Guest } from '../inventory/schema.js';
import { loadInventory, type Inventory } from '../inventory/store.js';
import { log } from '../log.js';
import type { AttachResult, ExpectResult } from './console.js';
import { hypervisorFor, resolveUri } from './connect.js';
import { HypervisorCallError } from './errors.js';
import { readLiveMac, type PinResult } from './pin.js';
import { isActive, targetForUri, type DomainSource, type DomainState, type Hypervisor, type Target } from './types.js';
import { requireEntry } from '../inventory/lookup.js';

export interface HostOptions {
  /** --connect URI. */
  connect?: string | undefined;
  /** --target xen|qemu (default: from the URI). */
  target?: Target | undefined;
  /** An open hypervisor to use instead of connecting (tests; one connection for many guests). */
  hypervisor?: Hypervisor | undefined;
}

interface Resolved {
  inv: Inventory;
  guest: Guest;
  uri: string;
  target: Target;
}

function requireGuest(inv: Inventory, name: string): Guest {
  return requireEntry(inv.data, 'guest', name);
}

async function resolveGuest(inventoryFile: string, name: string, opts: HostOptions): Promise<Resolved> {
  const inv = await loadInventory(inventoryFile);
  const guest = requireGuest(inv, name);
  const uri = opts.hypervisor?.uri ?? resolveUri({ flag: opts.connect, guest: guest.connect, site: inv.data.site.connect });
  return { inv, guest, uri, target: opts.target ?? targetForUri(uri) };
}

/** Runs fn on the given hypervisor, or on a fresh connection that is closed afterwards. */
async function using<T>(uri: string, opts: HostOptions, inv: Inventory, fn: (h: Hypervisor) => Promise<T>): Promise<T> {
  if (opts.hypervisor) return fn(opts.hypervisor);
  const h = hypervisorFor(uri, { xl: { cfgFor: (n) => cfgIfExists(inv, n) } });
  await h.connect();
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

function cfgIfExists(inv: Inventory, name: string): string | undefined {
  const cfg = guestFiles(inv.guestDir, name).cfg;
  return existsSync(cfg) ? cfg : undefined;
}

/** What the hypervisor is given for the guest: its XML for libvirt, NAME.cfg for xl. */
async function domainSource(r: Resolved, name: string, h: Hypervisor): Promise<DomainSource> {
  if (h.driver === 'xl') {
    const { writeGuestFiles } = await import('../deploy/guest-files.js');
    await writeGuestFiles(r.inv, name); // unchanged files are not rewritten
    return { kind: 'xl-cfg', path: guestFiles(r.inv.guestDir, name).cfg };
  }
  const { renderGuest } = await import('../render/guest-files.js');
  return { kind: 'xml', xml: renderGuest(r.inv.data, name, r.target === 'xen' ? 'libvirt' : 'qemu') };
}

export interface StartResult {
  name: string;
  uri: string;
  target: Target;
  /** 'defined': a persistent domain was (re)defined and started; 'transient': created from XML/cfg. */
  mode: 'defined' | 'transient';
  state: DomainState;
  /** The MAC the running guest has. */
  mac: string;
  /** How the MAC got into the inventory on this start. */
  pin: 'already-pinned' | PinResult['outcome'];
  /** The pinned MAC (differs from `mac` only when another start pinned first). */
  pinnedMac: string;
  warnings: string[];
}

/** Starts a guest; on its first boot pins the MAC the hypervisor gave it. */
export async function startGuest(inventoryFile: string, name: string, opts: HostOptions = {}): Promise<StartResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return using(r.uri, opts, r.inv, async (h) => {
    const before = await h.state(name);
    if (isActive(before)) {
      throw new HypervisorCallError(`guest '${name}' is already running at ${h.uri} (state ${before})`, 'already-running', h.uri, {
        hint: `\`xenroot console ${name}\` attaches to it; \`xenroot stop ${name}\` stops it`,
      });
    }
    const source = await domainSource(r, name, h);
    let mode: StartResult['mode'];
    if (before === 'shutoff' && h.driver === 'libvirt') {
      await h.define(source); // refresh the definition from the inventory, then boot it
      await h.start(name);
      mode = 'defined';
    } else {
      await h.create(source);
      mode = 'transient';
    }
    const warnings: string[] = [];
    const mac = await readLiveMac(h, name);
    let pin: StartResult['pin'];
    let pinnedMac: string;
    if (r.guest.mac) {
      pin = 'already-pinned';
      pinnedMac = r.guest.mac;
      if (mac !== r.guest.mac) warnings.push(`guest '${name}' runs with MAC ${mac}, but ${r.guest.mac} is pinned`);
    } else {
      const { pinFirstBootMac } = await import('./pin.js');
      const p = await pinFirstBootMac(inventoryFile, name, mac);
      pin = p.outcome;
      pinnedMac = p.mac;
      if (p.outcome === 'kept') {
        warnings.push(`another start pinned ${p.mac} for '${name}' first; this instance runs with ${mac}: restart it to use the pinned MAC`);
      }
    }
    const state = await h.state(name);
    log().debug({ name, uri: h.uri, mode, mac, pin }, 'guest started');
    return { name, uri: h.uri, target: r.target, mode, state, mac, pin, pinnedMac, warnings };
  });
}

export interface StopOptions extends HostOptions {
  /** Destroy instead of a graceful shutdown. */
  force?: boolean;
  /** How long to wait for a graceful shutdown (default 60 s). */
  timeoutMs?: number;
}

export interface StopResult {
  name: string;
  uri: string;
  before: DomainState;
  after: DomainState;
  how: 'shutdown' | 'destroy' | 'not-running';
}

async function waitInactive(h: Hypervisor, name: string, ms: number): Promise<DomainState> {
  const end = Date.now() + ms;
  for (;;) {
    const s = await h.state(name);
    if (!isActive(s) || s === 'crashed') return s;
    if (Date.now() >= end) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops a guest: graceful shutdown and wait, or destroy with force. Stopping a stopped guest is not an error. */
export async function stopGuest(inventoryFile: string, name: string, opts: StopOptions = {}): Promise<StopResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return using(r.uri, opts, r.inv, async (h) => {
    const before = await h.state(name);
    if (!isActive(before)) return { name, uri: h.uri, before, after: before, how: 'not-running' as const };
    if (opts.force || before === 'crashed' || before === 'paused') {
      await h.destroy(name);
      return { name, uri: h.uri, before, after: await h.state(name), how: 'destroy' as const };
    }
    await h.shutdown(name);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const after = await waitInactive(h, name, timeoutMs);
    if (isActive(after) && after !== 'crashed') {
      throw new TimeoutError(`guest '${name}' did not shut down within ${timeoutMs / 1000} s (state ${after})`, {
        hint: `\`xenroot stop ${name} --force\` pulls the plug`,
      });
    }
    return { name, uri: h.uri, before, after, how: 'shutdown' as const };
  });
}

export interface StatusRow {
  name: string;
  uri: string;
  state: DomainState | 'unreachable';
  id: number | undefined;
  persistent: boolean | undefined;
  /** MAC pinned in the inventory. */
  pinnedMac: string | undefined;
  macSource: Guest['macSource'] | undefined;
  /** MACs of the running domain. */
  liveMacs: string[] | undefined;
  error?: string;
}

/** State and MACs of one guest or all guests; one connection per host. */
export async function guestStatus(inventoryFile: string, name?: string, opts: HostOptions = {}): Promise<StatusRow[]> {
  const inv = await loadInventory(inventoryFile);
  const names = name === undefined ? Object.keys(inv.data.guests).sort() : [name];
  if (name !== undefined) requireGuest(inv, name);
  const byUri = new Map<string, string[]>();
  for (const n of names) {
    const g = inv.data.guests[n] as Guest;
    const uri = opts.hypervisor?.uri ?? resolveUri({ flag: opts.connect, guest: g.connect, site: inv.data.site.connect });
    byUri.set(uri, [...(byUri.get(uri) ?? []), n]);
  }
  const rows: StatusRow[] = [];
  for (const [uri, group] of byUri) {
    const base = (n: string): Omit<StatusRow, 'state' | 'id' | 'persistent' | 'liveMacs'> => {
      const g = inv.data.guests[n] as Guest;
      return { name: n, uri, pinnedMac: g.mac, macSource: g.macSource };
    };
    try {
      await using(uri, opts, inv, async (h) => {
        const domains = new Map((await h.list()).map((d) => [d.name, d]));
        await Promise.all(
          group.map(async (n) => {
            const d = domains.get(n);
            const state: DomainState = d ? d.state : 'undefined';
            const liveMacs = d && isActive(d.state) ? (await h.interfaces(n).catch(() => [])).map((i) => i.mac) : undefined;
            rows.push({ ...base(n), state, id: d?.id, persistent: d?.persistent, liveMacs });
          }),
        );
      });
    } catch (err) {
      if (name !== undefined || !(err instanceof HypervisorError || err instanceof TimeoutError)) throw err;
      for (const n of group) rows.push({ ...base(n), state: 'unreachable', id: undefined, persistent: undefined, liveMacs: undefined, error: (err as Error).message });
    }
  }
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

export interface DefineResult {
  name: string;
  uri: string;
  target: Target;
  /** libvirt: defined; xl: no stored definitions, NAME.cfg is the definition. */
  defined: boolean;
  cfg?: string;
}

/** Defines a persistent libvirt domain from the inventory (xl keeps no definitions: NAME.cfg is it). */
export async function defineGuest(inventoryFile: string, name: string, opts: HostOptions = {}): Promise<DefineResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return using(r.uri, opts, r.inv, async (h) => {
    const source = await domainSource(r, name, h);
    if (h.driver === 'xl') return { name, uri: h.uri, target: r.target, defined: false, cfg: (source as { path: string }).path };
    await h.define(source);
    return { name, uri: h.uri, target: r.target, defined: true };
  });
}

/** Removes the persistent libvirt definition (a running guest keeps running as a transient domain). */
export async function undefineGuest(inventoryFile: string, name: string, opts: HostOptions = {}): Promise<{ name: string; uri: string; undefined: boolean }> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return using(r.uri, opts, r.inv, async (h) => {
    if (h.driver === 'xl') return { name, uri: h.uri, undefined: false };
    const state = await h.state(name);
    if (state === 'undefined') return { name, uri: h.uri, undefined: false };
    await h.undefine(name);
    return { name, uri: h.uri, undefined: true };
  });
}

export interface ConsoleOptions extends HostOptions {
  /** Non-interactive: wait for this pattern. */
  expect?: RegExp;
  timeoutMs?: number;
  logFile?: string;
  onAttach?: () => void;
}

/** Attaches to a guest's console (interactive), or waits for a pattern on it (expect). */
export async function guestConsole(inventoryFile: string, name: string, opts: ConsoleOptions & { expect: RegExp }): Promise<ExpectResult>;
export async function guestConsole(inventoryFile: string, name: string, opts?: ConsoleOptions): Promise<AttachResult>;
export async function guestConsole(inventoryFile: string, name: string, opts: ConsoleOptions = {}): Promise<ExpectResult | AttachResult> {
  const r = await resolveGuest(inventoryFile, name, opts);
  return using(r.uri, opts, r.inv, async (h) => {
    const state = await h.state(name);
    if (!isActive(state)) {
      throw new HypervisorCallError(`guest '${name}' is not running at ${h.uri} (state ${state})`, 'not-running', h.uri, {
        hint: `\`xenroot start ${name} --console\` starts it and attaches`,
      });
    }
    const { attachConsole, expectConsole } = await import('./console.js');
    const cmd = h.consoleCommand(name);
    const stateOf = (): Promise<DomainState> => h.state(name);
    if (opts.expect) {
      return expectConsole(cmd, opts.expect, {
        timeoutMs: opts.timeoutMs ?? 60_000,
        stateOf,
        name,
        ...(opts.logFile ? { logFile: opts.logFile } : {}),
      });
    }
    return attachConsole(cmd, { stateOf, ...(opts.onAttach ? { onAttach: opts.onAttach } : {}) });
  });
}
