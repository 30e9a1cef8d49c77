/**
 * A libvirt connection for commands that must boot something here and now (`xenroot test`,
 * `xenroot demo`): the given URI, or, where nothing answers at qemu:///system and the caller
 * allows it, a private libvirtd started for this run (stopped by the caller).
 */
import { log } from '../sys/log.js';
import { hypervisorFor } from './connect.js';
import { HypervisorCallError } from './errors.js';
import { startLocalLibvirtd, type LocalLibvirtd } from './local-libvirtd.js';
import type { Hypervisor } from './types.js';

export interface Ensured {
  h: Hypervisor;
  /** The private libvirtd, when one was started: stop it when done. */
  local: LocalLibvirtd | undefined;
}

export async function connectOrStartPrivate(uri: string, allowPrivate: boolean): Promise<Ensured> {
  const h = hypervisorFor(uri);
  try {
    await h.connect();
    return { h, local: undefined };
  } catch (err) {
    if (!(allowPrivate && err instanceof HypervisorCallError && err.reason === 'unreachable')) throw err;
    log().info({ step: 'start-libvirtd', uri }, 'no libvirtd answers there: starting a private one for this run');
    const local = await startLocalLibvirtd();
    const h2 = hypervisorFor(local.uri);
    try {
      await h2.connect();
    } catch (e) {
      await local.stop();
      throw e;
    }
    return { h: h2, local };
  }
}
