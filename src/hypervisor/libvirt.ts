/**
 * The libvirt driver: a small typed facade over @unraid/libvirt (N-API binding of libvirt.so).
 * The package is ESM-only and loaded lazily (commands that never touch libvirt do not load the
 * native module); we declare the few calls we use ourselves rather than trust its `types` field.
 * Every call runs under a timeout and every failure becomes a HypervisorCallError.
 */
import { HypervisorError, TimeoutError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { mapHypervisorError, withTimeout } from './errors.js';
import { interfacesFromDomainXml, nameFromDomainXml, uuidFromDomainXml } from './xml.js';
import { renderDomainXml } from '../render/guest-files.js';
import type { DomainTarget } from '../inventory/constants.js';
import { VirshBootStore, type BootFileStore } from './boot-store.js';
import { ConsoleLogReader } from './console-log.js';
import { isSshUri, transportUri } from './ssh.js';
import { parseFreecell, parseNodeinfo, virsh, virshBatch, virshErrorText, type VirshOptions } from './virsh.js';
import { targetForUri, type ConsoleCommand, type DomainGuest, type DomainState, type DomainSummary, type Hypervisor, type HypervisorCapabilities, type InterfaceInfo, type NodeFacts } from './types.js';

/** The subset of @unraid/libvirt's Domain handle that we use (an opaque token). */
interface NativeDomain {
  readonly __nativeDomain?: never;
}

/** The subset of @unraid/libvirt's Hypervisor class that we use. */
interface NativeConnection {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  connectListAllDomains(flags?: number): Promise<NativeDomain[]>;
  domainCreateXML(xml: string): Promise<NativeDomain>;
  domainDefineXML(xml: string): Promise<NativeDomain>;
  domainLookupByName(name: string): Promise<NativeDomain>;
  domainCreate(d: NativeDomain): Promise<void>;
  domainShutdown(d: NativeDomain): Promise<void>;
  domainDestroy(d: NativeDomain): Promise<void>;
  domainUndefine(d: NativeDomain): Promise<void>;
  domainGetInfo(d: NativeDomain): Promise<{ state: number }>;
  domainGetID(d: NativeDomain): Promise<number | null | undefined>;
  domainGetName(d: NativeDomain): Promise<string>;
  domainGetXMLDesc(d: NativeDomain, flags?: number): Promise<string>;
}

interface NativeModule {
  Hypervisor: new (options: { uri: string }) => NativeConnection;
}

let nativeModule: Promise<NativeModule> | undefined;

/**
 * The package's index also loads its XML helpers (xml2js); we only need the Hypervisor class, so
 * import its module file beside the resolved index, and fall back to the index if that moves.
 */
async function importBinding(): Promise<NativeModule> {
  try {
    const index = import.meta.resolve('@unraid/libvirt');
    return (await import(new URL('./hypervisor.js', index).href)) as NativeModule;
  } catch {
    return (await import('@unraid/libvirt')) as unknown as NativeModule;
  }
}

async function loadNative(): Promise<NativeModule> {
  nativeModule ??= importBinding().catch((err: unknown) => {
    nativeModule = undefined;
    throw new HypervisorError(`cannot load the libvirt binding @unraid/libvirt: ${(err as Error).message}`, {
      hint: 'run scripts/setup.sh (it installs libvirt-dev and builds the binding)',
      cause: err,
    });
  });
  return nativeModule;
}

/** Whether a URI reaches libvirtd over TCP or TLS (xen+tcp://H/, qemu+tls://H/, xen://H/ with a host). Pure. */
export function isNetworkTransport(uri: string): boolean {
  const m = /^([a-z0-9]+)(?:\+([a-z0-9]+))?:\/\/([^/?]*)/i.exec(uri);
  if (!m) return false;
  const transport = (m[2] ?? '').toLowerCase();
  if (transport === 'tcp' || transport === 'tls') return true;
  return transport === '' && m[3] !== '' && m[1]?.toLowerCase() !== 'test';
}

/** libvirt's virDomainState numbers. */
const STATES: DomainState[] = ['nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended'];

export function libvirtState(n: number): DomainState {
  return STATES[n] ?? 'nostate';
}

const XML_INACTIVE = 2; // VIR_DOMAIN_XML_INACTIVE
const LIST_PERSISTENT = 4; // VIR_CONNECT_LIST_DOMAINS_PERSISTENT
const LIST_TRANSIENT = 8; // VIR_CONNECT_LIST_DOMAINS_TRANSIENT

export interface LibvirtOptions {
  /** Timeout for opening the connection (default 5 s; 20 s over ssh: a handshake with a slow host takes seconds). */
  connectTimeoutMs?: number;
  /** Timeout for every other call (default 60 s: starting a domain may take a while). */
  callTimeoutMs?: number;
  /** The virsh binary for consoles. */
  virsh?: string;
}

/** Seconds from an environment variable as ms, when set to a positive number (slow hosts: nested Xen under TCG). */
function envTimeoutMs(name: string): number | undefined {
  const s = Number(process.env[name]);
  return Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

export class LibvirtHypervisor implements Hypervisor {
  readonly uri: string;
  readonly capabilities: HypervisorCapabilities;
  private conn: NativeConnection | undefined;
  private readonly connectTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly virsh: string;
  /** The URI opened: ssh URIs go through xenroot's ssh wrapper (src/hypervisor/ssh.ts). */
  private transport: string | undefined;

  constructor(uri: string, options: LibvirtOptions = {}) {
    this.uri = uri;
    this.capabilities = { persistentDefinitions: true, defaultTarget: targetForUri(uri) };
    this.connectTimeoutMs = options.connectTimeoutMs ?? (isSshUri(uri) ? 20_000 : 5_000);
    this.callTimeoutMs = options.callTimeoutMs ?? envTimeoutMs('XENROOT_LIBVIRT_TIMEOUT') ?? 60_000;
    this.virsh = options.virsh ?? 'virsh';
  }

  async connect(): Promise<void> {
    if (this.conn) return;
    if (isNetworkTransport(this.uri)) await this.probe();
    const native = await loadNative();
    const conn = new native.Hypervisor({ uri: this.transportUri() });
    try {
      await withTimeout(
        conn.connectOpen(),
        this.connectTimeoutMs,
        `libvirt at ${this.uri}`,
        `is libvirtd running and answering at ${this.uri}? Select another host with --connect URI or XENROOT_CONNECT`,
      );
    } catch (err) {
      if (err instanceof TimeoutError) throw err;
      throw mapHypervisorError(err, 'connecting to libvirt', this.uri);
    }
    this.conn = conn;
  }

  /**
   * A network host that accepts TCP but never answers (a hung libvirtd) or never completes the
   * handshake (a dead host) would keep the native connect in a libuv worker that nothing can
   * cancel, and the process could not even exit until libvirt gives up (seen: exit() waits for
   * it). So remote TCP/TLS URIs are asked first by `virsh uri` in a child process, which a
   * timeout can kill.
   */
  private async probe(): Promise<void> {
    const r = await virsh(this.virshOptions(), 'connecting to libvirt', ['uri'], { check: false, timeoutMs: this.connectTimeoutMs }).catch((err: unknown) => {
      if (err instanceof TimeoutError) {
        throw new TimeoutError(`libvirt at ${this.uri} did not answer within ${this.connectTimeoutMs / 1000} s`, {
          hint: `is the host up and libvirtd answering at ${this.uri}? Select another host with --connect URI or XENROOT_CONNECT`,
        });
      }
      throw err;
    });
    if (r.exitCode !== 0) throw mapHypervisorError(new Error(virshErrorText(r.stderr) || `virsh exited ${r.exitCode}`), 'connecting to libvirt', this.uri);
  }

  private transportUri(): string {
    this.transport ??= transportUri(this.uri);
    return this.transport;
  }

  /** How virsh reaches the same host (storage, uploads, free memory: what the binding lacks). */
  virshOptions(): VirshOptions {
    return { uri: this.transportUri(), displayUri: this.uri, timeoutMs: this.callTimeoutMs, virsh: this.virsh };
  }

  /** Boot files as volumes of xenroot's pool at `dir` on this host (src/hypervisor/boot-store.ts). */
  bootStore(dir: string): BootFileStore {
    return new VirshBootStore(this.virshOptions(), dir);
  }

  /** The console logs of guests of flavour `target` on this host (src/hypervisor/console-log.ts). */
  consoleLog(target: DomainTarget): ConsoleLogReader {
    return new ConsoleLogReader(this.virshOptions(), target);
  }

  /** CPUs, memory and free memory of the host: `virsh nodeinfo; freecell` in one call. */
  async nodeFacts(): Promise<NodeFacts> {
    const { out } = await virshBatch(this.virshOptions(), 'reading node info', [
      ['n', 'nodeinfo'],
      ['f', 'freecell'],
    ]);
    const n = parseNodeinfo(out.get('n') ?? '');
    return { cpus: n.cpus, memoryKiB: n.memoryKiB, freeKiB: parseFreecell(out.get('f') ?? '') };
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    try {
      await withTimeout(conn.connectClose(), this.connectTimeoutMs, `closing libvirt at ${this.uri}`);
    } catch (err) {
      log().debug({ err, uri: this.uri }, 'closing the libvirt connection failed (ignored)');
    }
  }

  private async call<T>(op: string, domain: string | undefined, fn: (c: NativeConnection) => Promise<T>): Promise<T> {
    if (!this.conn) await this.connect();
    const conn = this.conn as NativeConnection;
    try {
      return await withTimeout(fn(conn), this.callTimeoutMs, `libvirt ${op}${domain ? ` '${domain}'` : ''} at ${this.uri}`);
    } catch (err) {
      if (err instanceof TimeoutError) throw err;
      throw mapHypervisorError(err, op, this.uri, domain);
    }
  }

  private lookup(name: string): Promise<NativeDomain> {
    return this.call('lookup', name, (c) => c.domainLookupByName(name));
  }

  /** Defines (or redefines) the guest from its domain XML, keeping an existing domain's UUID. */
  async define(guest: DomainGuest): Promise<void> {
    const name = guest.spec.name;
    const uuid = (await this.exists(name)) ? uuidFromDomainXml(await this.definedDescription(name).catch(() => this.liveDescription(name))) : undefined;
    await this.defineXml(renderDomainXml(guest.spec, guest.target, uuid ? { uuid } : {}));
  }

  /** Starts the guest as a transient domain from its domain XML. */
  async create(guest: DomainGuest): Promise<void> {
    await this.createXml(renderDomainXml(guest.spec, guest.target));
  }

  /** Defines a domain from XML written elsewhere (libvirt only; tests and hand-made domains). Returns its name. */
  async defineXml(xml: string): Promise<string> {
    const name = nameFromDomainXml(xml);
    const d = await this.call('define', name, (c) => c.domainDefineXML(xml));
    return this.call('get name', name, (c) => c.domainGetName(d));
  }

  /** Starts a transient domain from XML written elsewhere. Returns its name. */
  async createXml(xml: string): Promise<string> {
    const name = nameFromDomainXml(xml);
    const d = await this.call('create', name, (c) => c.domainCreateXML(xml));
    return this.call('get name', name, (c) => c.domainGetName(d));
  }

  async undefine(name: string): Promise<void> {
    const d = await this.lookup(name);
    await this.call('undefine', name, (c) => c.domainUndefine(d));
  }

  async start(name: string): Promise<void> {
    const d = await this.lookup(name);
    await this.call('start', name, (c) => c.domainCreate(d));
  }

  async shutdown(name: string): Promise<void> {
    const d = await this.lookup(name);
    await this.call('shutdown', name, (c) => c.domainShutdown(d));
  }

  async destroy(name: string): Promise<void> {
    const d = await this.lookup(name);
    await this.call('destroy', name, (c) => c.domainDestroy(d));
  }

  async exists(name: string): Promise<boolean> {
    return (await this.state(name)) !== 'undefined';
  }

  async state(name: string): Promise<DomainState> {
    let d: NativeDomain;
    try {
      d = await this.lookup(name);
    } catch (err) {
      if ((err as { reason?: string }).reason === 'no-such-domain') return 'undefined';
      throw err;
    }
    try {
      const info = await this.call('get state', name, (c) => c.domainGetInfo(d));
      return libvirtState(info.state);
    } catch (err) {
      // A transient domain that ended between the lookup and this call is gone, not an error.
      if ((err as { reason?: string }).reason === 'no-such-domain') return 'undefined';
      throw err;
    }
  }

  async list(): Promise<DomainSummary[]> {
    // Persistent and transient lists apart (no second pass of names to tell them), and the id only
    // of a domain that runs: 2 calls per defined domain instead of 4 (status over many domains).
    const [persistent, transient] = await Promise.all([
      this.call('list persistent domains', undefined, (c) => c.connectListAllDomains(LIST_PERSISTENT)),
      this.call('list transient domains', undefined, (c) => c.connectListAllDomains(LIST_TRANSIENT)),
    ]);
    const row = async (d: NativeDomain, isPersistent: boolean): Promise<DomainSummary> => {
      const [name, info] = await Promise.all([this.call('get name', undefined, (c) => c.domainGetName(d)), this.call('get state', undefined, (c) => c.domainGetInfo(d))]);
      const state = libvirtState(info.state);
      const id = state === 'shutoff' ? undefined : await this.call('get id', name, (c) => c.domainGetID(d));
      return { name, state, id: id ?? undefined, persistent: isPersistent };
    };
    const rows = await Promise.all([...persistent.map((d) => row(d, true)), ...transient.map((d) => row(d, false))]);
    return rows.sort((a, b) => a.name.localeCompare(b.name));
  }

  async liveDescription(name: string): Promise<string> {
    const d = await this.lookup(name);
    return this.call('get XML', name, (c) => c.domainGetXMLDesc(d));
  }

  /** The persistent (inactive) definition of a defined domain. */
  async definedDescription(name: string): Promise<string> {
    const d = await this.lookup(name);
    return this.call('get XML', name, (c) => c.domainGetXMLDesc(d, XML_INACTIVE));
  }

  async interfaces(name: string): Promise<InterfaceInfo[]> {
    return interfacesFromDomainXml(await this.liveDescription(name));
  }

  consoleCommand(name: string): ConsoleCommand {
    return { file: this.virsh, args: ['-c', this.transportUri(), 'console', name], escape: '\x1d' };
  }
}
