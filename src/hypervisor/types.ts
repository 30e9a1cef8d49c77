/**
 * The one interface every hypervisor driver implements (libvirt through @unraid/libvirt, xl through
 * the xl toolstack). The workflows only see this and the declared capabilities.
 */
import type { DomainTarget } from '../inventory/schema.js';
import type { GuestSpec } from '../render/guest-spec.js';
import type { BootFileStore } from './boot-store.js';
import type { ConsoleLogReader } from './console-log.js';

/** What placement needs to know of a host (libvirt nodeinfo + freecell). KiB. */
export interface NodeFacts {
  cpus: number | undefined;
  memoryKiB: number | undefined;
  /** Free memory for new guests (Xen: the hypervisor's free pool, as `xl info free_memory`). */
  freeKiB: number | undefined;
}

/** Domain states, normalised across libvirt and xl. */
export type DomainState =
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutdown' // shutting down
  | 'shutoff' // defined, not running
  | 'crashed'
  | 'pmsuspended'
  | 'dying'
  | 'nostate'
  | 'undefined'; // the hypervisor does not know this name

export interface DomainSummary {
  name: string;
  state: DomainState;
  /** Domain id while running (libvirt id / xl domid), otherwise undefined. */
  id: number | undefined;
  persistent: boolean | undefined;
}

export interface InterfaceInfo {
  /** MAC in lower case, colon separated. */
  mac: string;
  /** Bridge or network the NIC is attached to, when known. */
  source: string | undefined;
  /** libvirt target dev (vnetN / vifX.Y) when known. */
  target: string | undefined;
}

/** What a console is spawned with: a program and its arguments, to run under a pty. */
export interface ConsoleCommand {
  file: string;
  args: string[];
  /** The escape the program itself honours (virsh and xl both use Ctrl-]). */
  escape: string;
}

/**
 * A guest resolved from the inventory, as every driver takes it: the spec (what the .cfg and the
 * XML both say), the domain flavour to run it as, and the home of its generated .cfg (the file an
 * xl host runs, as the HOWTO's `xl create NAME.cfg`). Each driver produces its own domain source
 * from it (libvirt: domain XML through src/render; xl: the .cfg).
 */
export interface DomainGuest {
  spec: GuestSpec;
  target: DomainTarget;
  files: { cfg: string };
}

/** What a driver can do, declared: callers ask these, never which driver it is. */
export interface HypervisorCapabilities {
  /** It stores definitions (libvirt define/start); false: every start is a create from the source (xl). */
  persistentDefinitions: boolean;
  /** The domain flavour its URI runs by default (xen:// -> xen, qemu:// and test:// -> qemu). */
  defaultTarget: DomainTarget;
}

export interface Hypervisor {
  /** The URI the driver talks to (xl: 'xl://'). */
  readonly uri: string;
  readonly capabilities: HypervisorCapabilities;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Persistent definition (or redefinition, keeping the domain's UUID). Only with persistentDefinitions. */
  define(guest: DomainGuest): Promise<void>;
  undefine(name: string): Promise<void>;
  /** Transient start from the guest (libvirt createXML, xl create). */
  create(guest: DomainGuest): Promise<void>;
  /** Start a defined domain. Only with persistentDefinitions. */
  start(name: string): Promise<void>;
  /** Graceful shutdown request (ACPI / PV shutdown). Does not wait. */
  shutdown(name: string): Promise<void>;
  /** Hard stop. */
  destroy(name: string): Promise<void>;
  state(name: string): Promise<DomainState>;
  list(): Promise<DomainSummary[]>;
  /** The live description (libvirt: domain XML; xl: `xl list -l` JSON of the domain). */
  liveDescription(name: string): Promise<string>;
  /** NICs of the domain as the hypervisor sees them now (running: the MACs the guest really has). */
  interfaces(name: string): Promise<InterfaceInfo[]>;
  /** How to attach to the domain's console under a pty. */
  consoleCommand(name: string): ConsoleCommand;
  /** Boot files kept on the host, as volumes of a pool at `dir` (libvirt); absent: the driver boots local paths (xl). */
  bootStore?(dir: string): BootFileStore;
  /** The console logs of the host's guests, readable from here (libvirt); absent: read them on the host. */
  consoleLog?(target: DomainTarget): ConsoleLogReader;
  /** CPUs and free memory, for placement (libvirt). */
  nodeFacts?(): Promise<NodeFacts>;
}

/** Which domain flavour a URI wants: qemu:// and test:// run the QEMU test domain, xen:// the Xen PV one. */
export function targetForUri(uri: string): DomainTarget {
  const scheme = uri.split(':', 1)[0]?.toLowerCase() ?? '';
  const base = scheme.split('+', 1)[0] ?? '';
  if (base === 'xen' || base === 'libxl' || base === 'xl') return 'xen';
  return 'qemu';
}

/** Whether the domain is running in the sense of "has a live instance". */
export function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'blocked' || state === 'paused' || state === 'shutdown' || state === 'pmsuspended' || state === 'crashed';
}
