/** Sockets of this host: whether something accepts TCP at an address, whether a UDP port is bound here. */
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';

/**
 * Opens a TCP connection to HOST:PORT and closes it at once. Resolves `{ ok: true }` when it was
 * accepted, else `{ ok: false, reason }` (the socket error's code, e.g. ECONNREFUSED, or
 * "no answer in N ms" after `timeoutMs`, default 3000). Never throws.
 */
export function tcpReachable(host: string, port: number, timeoutMs = 3000): Promise<{ ok: boolean; reason?: string }> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (r: { ok: boolean; reason?: string }) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ ok: false, reason: `no answer in ${timeoutMs} ms` }));
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
  });
}

/**
 * Whether a UDP socket of this network namespace is bound to local `port` on any address
 * (/proc/net/udp and /proc/net/udp6; a UDP server has no listening state, so bound is what there is).
 */
export function udpBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    if (text.split('\n').slice(1).some((l) => l.trim().split(/\s+/)[1]?.endsWith(hex))) return true;
  }
  return false;
}
