/** `xenroot console NAME`: attach interactively, or wait for a pattern (--expect). */
import { HypervisorCallError } from '../hypervisor/errors.js';
import type { AttachResult, ExpectResult } from '../hypervisor/console.js';

export type { AttachResult, ExpectResult };
import { isActive, type DomainState } from '../hypervisor/types.js';
import { resolveGuest, usingHypervisor, type HostOptions } from './steps/guest-host.js';

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
  return usingHypervisor(r.uri, opts, async (h) => {
    const state = await h.state(name);
    if (!isActive(state)) {
      throw new HypervisorCallError(`guest '${name}' is not running at ${h.uri} (state ${state})`, 'not-running', h.uri, {
        hint: `\`xenroot start ${name} --console\` starts it and attaches`,
      });
    }
    const { attachConsole, expectConsole } = await import('../hypervisor/console.js');
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
