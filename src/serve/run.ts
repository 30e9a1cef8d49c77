/**
 * `xenroot serve`: runs the boot service until SIGTERM. Listens where it is told (--listen, else
 * site.serve.listen, else the NFS server's address on port 8080: never every interface unless
 * asked), tells systemd it is ready (READY=1 through systemd-notify when NOTIFY_SOCKET is set),
 * reads the inventory anew on SIGHUP, and on SIGTERM stops taking connections and drains the
 * requests in flight (fastify's close()) before it returns.
 */
import { execa } from 'execa';
import { DeployError, UsageError } from '../sys/errors.js';
import { onCleanup, takeSignal } from '../sys/lifetime.js';
import { log } from '../sys/log.js';
import { serveListen, stateDir } from '../inventory/paths.js';
import { checkinDir } from '../ops/steps/checkins.js';
import { buildServeApp } from './app.js';
import { inventoryView } from './view.js';

/** `ADDR:PORT` (IPv4, a host name, or [IPv6]; port 0: any free port, logged) into host and port; UsageError naming the value otherwise. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new UsageError(`--listen "${value}" is not ADDR:PORT`, { hint: 'give an address of this host and a port from 1 to 65535 (0: any free one), such as 192.168.1.1:8080 or [fd00::1]:8080' });
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** A running service: its URL, and `stopped`, which settles once it has closed. */
export interface RunningService {
  url: string;
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the service for `inventoryFile`. Throws InventoryError when the inventory cannot be read,
 * UsageError for a bad listen value, DeployError when the address cannot be bound (in use, not
 * an address of this host).
 */
export async function runServe(inventoryFile: string, opts: { listen?: string; checkins?: string } = {}): Promise<RunningService> {
  const view = await inventoryView(inventoryFile);
  const site = (await view.current()).site;
  const listen = opts.listen ?? serveListen(site);
  const { host, port } = parseListen(listen);
  const app = await buildServeApp({ view, checkins: opts.checkins ?? checkinDir(stateDir(inventoryFile, site)) });
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close();
    throw new DeployError(`the boot service cannot listen on ${listen}: ${(err as Error).message}`, {
      hint: 'give an address of this host that no other service holds (--listen ADDR:PORT or site.serve.listen)',
      cause: err,
    });
  }
  const addr = app.server.address();
  const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `http://${listen}`;
  let stopping: Promise<void> | undefined;
  const releases: (() => void)[] = [];
  const stop = (): Promise<void> => {
    stopping ??= app.close().then(() => {
      for (const r of releases) r();
      cleanup.release();
      log().info({ url }, 'boot service stopped');
    });
    return stopping;
  };
  const cleanup = onCleanup(`boot service on ${url}`, () => stop());
  releases.push(
    takeSignal('SIGTERM', () => void stop()),
    takeSignal('SIGHUP', () => void view.reload()),
  );
  log().info({ url, inventory: inventoryFile }, 'boot service listening');
  if (process.env.NOTIFY_SOCKET) {
    const r = await execa('systemd-notify', ['--ready', `--pid=${process.pid}`], { reject: false });
    if (r.exitCode !== 0) log().warn({ err: r.stderr || r.message }, 'systemd-notify --ready failed');
  }
  const stopped = new Promise<void>((res) => app.server.once('close', () => res()));
  return { url, stopped: stopped.then(() => stopping), stop };
}
