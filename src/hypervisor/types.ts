/**
 * The one interface every hypervisor driver implements (libvirt through @unraid/libvirt, xl through
 * the xl toolstack). The CLI and the MAC pinning code only see this.
 */

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

/** The source a transient or persistent domain is made from: libvirt XML or an xl cfg file. */
export type DomainSource = { kind: 'xml'; xml: string } | { kind: 'xl-cfg'; path: string };

export interface Hypervisor {
  /** 'libvirt' or 'xl'. */
  readonly driver: 'libvirt' | 'xl';
  /** The URI the driver talks to (xl: 'xl://localhost'). */
  readonly uri: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Persistent definition (libvirt define). Returns the domain name. */
  define(source: DomainSource): Promise<string>;
  undefine(name: string): Promise<void>;
  /** Transient start from XML/cfg (libvirt createXML, xl create). Returns the domain name. */
  create(source: DomainSource): Promise<string>;
  /** Start a defined domain. */
  start(name: string): Promise<void>;
  /** Graceful shutdown request (ACPI / PV shutdown). Does not wait. */
  shutdown(name: string): Promise<void>;
  /** Hard stop. */
  destroy(name: string): Promise<void>;
  /** Whether the hypervisor knows the name (defined or running). */
  exists(name: string): Promise<boolean>;
  state(name: string): Promise<DomainState>;
  list(): Promise<DomainSummary[]>;
  /** The live description (libvirt: domain XML; xl: `xl list -l` JSON of the domain). */
  liveDescription(name: string): Promise<string>;
  /** NICs of the domain as the hypervisor sees them now (running: the MACs the guest really has). */
  interfaces(name: string): Promise<InterfaceInfo[]>;
  /** How to attach to the domain's console under a pty. */
  consoleCommand(name: string): ConsoleCommand;
}

export type Target = 'xen' | 'qemu';

/** Which domain flavour a URI wants: qemu:// and test:// run the QEMU test domain, xen:// the Xen PV one. */
export function targetForUri(uri: string): Target {
  const scheme = uri.split(':', 1)[0]?.toLowerCase() ?? '';
  const base = scheme.split('+', 1)[0] ?? '';
  if (base === 'xen' || base === 'libxl' || base === 'xl') return 'xen';
  return 'qemu';
}

/** Whether the domain is running in the sense of "has a live instance". */
export function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'blocked' || state === 'paused' || state === 'shutdown' || state === 'pmsuspended' || state === 'crashed';
}
