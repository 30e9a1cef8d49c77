/**
 * The xl driver: the Xen xl toolstack through execa, for hosts without libvirt. Kept thin: the
 * parsers of xl's output are pure functions (tested against recorded xl output), the rest is
 * `xl create/shutdown/destroy/list/network-list/console`.
 *
 * xl keeps no persistent definitions (declared: persistentDefinitions false): the guest's .cfg
 * file is its definition, and every start is `xl create` on the guest's generated .cfg, the same
 * file an admin would run by hand.
 */
import { readFile } from 'node:fs/promises';
import { DependencyError, HypervisorError, TimeoutError } from '../sys/errors.js';
import { HypervisorCallError, mapHypervisorError } from './errors.js';
import type { ConsoleCommand, DomainGuest, DomainState, DomainSummary, Hypervisor, HypervisorCapabilities, InterfaceInfo } from './types.js';

export interface XlNic {
  idx: number;
  backendDomid: number;
  mac: string;
  handle: number;
  state: number;
  evtch: number;
  txRingRef: number;
  rxRingRef: number;
  backendPath: string;
}

/**
 * Parses `xl network-list DOMAIN` (xl_vif.c: header "Idx BE Mac Addr. handle state evt-ch
 * tx-/rx-ring-ref BE-path", then one row per vif).
 */
export function parseXlNetworkList(stdout: string): XlNic[] {
  const nics: XlNic[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t || /^idx\s/i.test(t)) continue;
    const m = /^(\d+)\s+(\d+)\s+([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\/(-?\d+)\s*(\S*)/.exec(t);
    if (!m) throw new HypervisorError(`unexpected line in \`xl network-list\` output: ${JSON.stringify(t)}`);
    nics.push({
      idx: Number(m[1]),
      backendDomid: Number(m[2]),
      mac: (m[3] ?? '').toLowerCase(),
      handle: Number(m[4]),
      state: Number(m[5]),
      evtch: Number(m[6]),
      txRingRef: Number(m[7]),
      rxRingRef: Number(m[8]),
      backendPath: m[9] ?? '',
    });
  }
  return nics;
}

export interface XlDomainLong {
  domid: number;
  name: string;
  uuid: string | undefined;
  nics: Array<{ devid: number | undefined; mac: string; bridge: string | undefined }>;
}

/** Parses `xl list -l [DOMAIN]`: a JSON array of { domid, config: libxl_domain_config }. */
export function parseXlListLong(stdout: string): XlDomainLong[] {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch (err) {
    throw new HypervisorError(`\`xl list -l\` did not print JSON: ${(err as Error).message}`, {
      hint: 'xl.conf output_format must be "json" (the default)',
    });
  }
  if (!Array.isArray(data)) throw new HypervisorError('`xl list -l` printed JSON that is not an array of domains');
  return data.map((entry: unknown) => {
    const e = entry as { domid?: unknown; config?: { c_info?: { name?: unknown; uuid?: unknown }; nics?: unknown } };
    const nics = Array.isArray(e.config?.nics) ? (e.config?.nics as Array<Record<string, unknown>>) : [];
    return {
      domid: typeof e.domid === 'number' ? e.domid : -1,
      name: typeof e.config?.c_info?.name === 'string' ? e.config.c_info.name : '',
      uuid: typeof e.config?.c_info?.uuid === 'string' ? e.config.c_info.uuid : undefined,
      nics: nics.map((n) => ({
        devid: typeof n['devid'] === 'number' ? n['devid'] : undefined,
        mac: typeof n['mac'] === 'string' ? n['mac'].toLowerCase() : '',
        bridge: typeof n['bridge'] === 'string' ? n['bridge'] : undefined,
      })),
    };
  });
}

export interface XlListRow {
  name: string;
  id: number;
  memMiB: number;
  vcpus: number;
  state: DomainState;
  flags: string;
  timeS: number;
}

/** State of an `xl list` flags column (r b p s c d, one position each). */
export function xlFlagsToState(flags: string): DomainState {
  if (flags.includes('d')) return 'dying';
  if (flags.includes('c')) return 'crashed';
  if (flags.includes('s')) return 'shutdown';
  if (flags.includes('p')) return 'paused';
  if (flags.includes('r')) return 'running';
  if (flags.includes('b')) return 'blocked';
  return 'nostate';
}

/** Parses plain `xl list [DOMAIN]` (xl_info.c: "Name ID Mem VCPUs State Time(s)"). */
export function parseXlList(stdout: string): XlListRow[] {
  const rows: XlListRow[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim() || /^Name\s+ID\s/.test(line)) continue;
    // The name is left-aligned in 40 columns and may in theory hold spaces: parse from the right.
    const m = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+([rbpscd-]{6})\s+([\d.]+)/.exec(line.trim());
    if (!m) throw new HypervisorError(`unexpected line in \`xl list\` output: ${JSON.stringify(line)}`);
    const flags = m[5] ?? '';
    rows.push({
      name: m[1] ?? '',
      id: Number(m[2]),
      memMiB: Number(m[3]),
      vcpus: Number(m[4]),
      flags,
      state: xlFlagsToState(flags),
      timeS: Number(m[6]),
    });
  }
  return rows;
}

/** The `name = "..."` of an xl cfg text. */
export function nameFromXlCfg(text: string): string {
  const m = /^\s*name\s*=\s*(["'])(.*?)\1/m.exec(text);
  if (!m?.[2]) throw new HypervisorError('the xl cfg has no name = "..." line', { hint: 'render it with `xenroot render NAME`' });
  return m[2];
}

export interface XlOptions {
  xl?: string;
  timeoutMs?: number;
}

export class XlHypervisor implements Hypervisor {
  readonly uri = 'xl://';
  readonly capabilities: HypervisorCapabilities = { persistentDefinitions: false, defaultTarget: 'xen' };
  private readonly xl: string;
  private readonly timeoutMs: number;

  constructor(options: XlOptions = {}) {
    this.xl = options.xl ?? 'xl';
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  private async run(op: string, domain: string | undefined, args: string[]): Promise<string> {
    const { execa } = await import('execa'); // lazy: only the xl driver needs it
    try {
      const r = await execa(this.xl, args, { timeout: this.timeoutMs, stdin: 'ignore' });
      return r.stdout;
    } catch (err) {
      const e = err as { code?: string; timedOut?: boolean; stderr?: string; shortMessage?: string };
      if (e.code === 'ENOENT') {
        throw new DependencyError(`the xl toolstack (${this.xl}) is not installed here`, {
          hint: 'run xenroot in dom0 of a Xen host (xen-utils), or use --connect xen+ssh://HOST/system',
        });
      }
      if (e.timedOut) throw new TimeoutError(`xl ${args.join(' ')} did not finish within ${this.timeoutMs / 1000} s`);
      throw mapHypervisorError(new Error(e.stderr?.trim() || e.shortMessage || String(err)), `xl ${op}`, this.uri, domain);
    }
  }

  async connect(): Promise<void> {
    await this.run('info', undefined, ['info']);
  }

  async close(): Promise<void> {}

  async define(guest: DomainGuest): Promise<void> {
    throw new HypervisorCallError(`xl keeps no domain definitions: ${guest.files.cfg} is the definition of '${guest.spec.name}'`, 'unsupported', this.uri, {
      hint: `\`xenroot start ${guest.spec.name}\` runs \`xl create\` on it`,
    });
  }

  async undefine(_name: string): Promise<void> {
    // xl has no stored definitions; the cfg file is owned by `xenroot remove`.
  }

  /** `xl create GUEST.cfg`: the guest's generated cfg, written by the caller from the same spec. */
  async create(guest: DomainGuest): Promise<void> {
    const name = nameFromXlCfg(await readFile(guest.files.cfg, 'utf8'));
    if (name !== guest.spec.name) throw new HypervisorError(`${guest.files.cfg} names domain '${name}', not '${guest.spec.name}'`, { hint: 'run `xenroot sync` to regenerate it' });
    await this.run('create', name, ['create', guest.files.cfg]);
  }

  async start(name: string): Promise<void> {
    throw new HypervisorCallError(`xl cannot start '${name}' without its cfg`, 'unsupported', this.uri, { hint: `\`xenroot start ${name}\` runs \`xl create\` on its cfg` });
  }

  async shutdown(name: string): Promise<void> {
    await this.run('shutdown', name, ['shutdown', name]);
  }

  async destroy(name: string): Promise<void> {
    await this.run('destroy', name, ['destroy', name]);
  }

  async state(name: string): Promise<DomainState> {
    try {
      const rows = parseXlList(await this.run('list', name, ['list', name]));
      return rows[0]?.state ?? 'undefined';
    } catch (err) {
      if (err instanceof HypervisorCallError && err.reason === 'no-such-domain') return 'undefined';
      throw err;
    }
  }

  async list(): Promise<DomainSummary[]> {
    return parseXlList(await this.run('list', undefined, ['list']))
      .filter((r) => r.id !== 0)
      .map((r) => ({ name: r.name, state: r.state, id: r.id, persistent: false }));
  }

  async liveDescription(name: string): Promise<string> {
    return this.run('list -l', name, ['list', '-l', name]);
  }

  async interfaces(name: string): Promise<InterfaceInfo[]> {
    // network-list shows the MAC the backend really uses; list -l adds the bridge.
    const [nics, long] = await Promise.all([
      this.run('network-list', name, ['network-list', name]).then(parseXlNetworkList),
      this.run('list -l', name, ['list', '-l', name]).then(parseXlListLong).catch(() => [] as XlDomainLong[]),
    ]);
    const cfgNics = long[0]?.nics ?? [];
    return nics.map((n) => ({
      mac: n.mac,
      source: cfgNics.find((c) => c.devid === n.idx)?.bridge,
      target: n.backendPath ? `vif${n.backendPath.split('/').slice(-2).join('.')}` : undefined,
    }));
  }

  consoleCommand(name: string): ConsoleCommand {
    return { file: this.xl, args: ['console', name], escape: '\x1d' };
  }
}
