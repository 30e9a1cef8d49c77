/** `xenroot stop NAME [--force]`: graceful shutdown and wait, or destroy. */
import { TimeoutError } from '../sys/errors.js';
import { isActive, type DomainState, type Hypervisor } from '../hypervisor/types.js';
import { resolveGuest, usingHypervisor, type HostOptions } from './steps/guest-host.js';

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
  return usingHypervisor(r.uri, opts, async (h) => {
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
