/**
 * A full disk under the check-ins (a real 256 KiB tmpfs in the service's own mount namespace,
 * filled from outside through /proc/PID/root): a check-in is answered 503 with Retry-After, the
 * node's earlier check-in stays intact, no temp file is left, and once space is back it is taken.
 * Also the neighbour table reader against the kernel's /proc/net/arp format.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { XENROOT } from '../support/cli.js';
import { neighbourMac } from '../../src/sys/neighbours.js';

let dir: string;
let child: ChildProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-serve-full-'));
  mkdirSync(join(dir, 'tftp'));
  mkdirSync(join(dir, 'state'));
  writeFileSync(
    join(dir, 'inventory.yaml'),
    `site:\n  nfsServer: 127.0.0.1\n  allow: [127.0.0.0/8]\n  tftpRoot: ${dir}/tftp\n  exportRoot: ${dir}/srv\n  bootDir: ${dir}/boot\nimages:\n  tiny:\n    root: ${dir}/tiny\n    kver: 6.1.0-test\nclients:\n  pc1:\n    mac: 52:54:00:ee:00:01\n    image: tiny\n    address: 127.0.9.1/8\n`,
  );
});

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function post(url: string, bootId: string): Promise<{ status: number; retryAfter: string | undefined }> {
  const body = JSON.stringify({ bootId, mac: '52:54:00:ee:00:01', revision: null, initrd: 'builtin', kernel: '6.1.0-test', state: 'running' });
  const u = new URL('/checkin', url);
  return new Promise((res, rej) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress: '127.0.9.1', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume();
      r.on('end', () => res({ status: r.statusCode ?? 0, retryAfter: r.headers['retry-after'] as string | undefined }));
    });
    req.on('error', rej);
    req.end(body);
  });
}

it('answers 503 on a full disk and keeps the node\'s earlier check-in intact, then takes check-ins again once there is space', async () => {
  const state = join(dir, 'state');
  const script = `mount -t tmpfs -o size=256k tmpfs "$1" && exec node "$2" serve --listen 127.0.0.1:0`;
  child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', state, XENROOT], {
    env: { ...process.env, XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_STATE_DIR: state, XENROOT_LOG_JSON: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    child!.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(buf);
      if (m) res(m[1]!);
    });
    child!.on('exit', (code) => rej(new Error(`serve exited ${code}: ${buf}`)));
  });
  // The service's view of the state directory: its tmpfs, seen from outside its namespace.
  const inside = join(`/proc/${child.pid}/root`, state);
  const first = '00000000-0000-4000-8000-000000000001';
  expect((await post(url, first)).status).toBe(200);
  const before = readFileSync(join(inside, 'checkins/pc1.json'), 'utf8');
  // Fill the tmpfs to the last byte.
  const chunk = Buffer.alloc(4096);
  try {
    for (let i = 0; i < 1000; i++) writeFileSync(join(inside, 'fill'), chunk, { flag: 'a' });
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  }
  const full = await post(url, '00000000-0000-4000-8000-000000000002');
  expect(full.status).toBe(503);
  expect(full.retryAfter).toBe('30');
  expect(readFileSync(join(inside, 'checkins/pc1.json'), 'utf8')).toBe(before);
  expect(readdirSync(join(inside, 'checkins')).filter((f) => f.includes('xenroot-tmp'))).toEqual([]);
  rmSync(join(inside, 'fill'));
  expect((await post(url, '00000000-0000-4000-8000-000000000003')).status).toBe(200);
  expect(JSON.parse(readFileSync(join(inside, 'checkins/pc1.json'), 'utf8')).boots.map((b: { bootId: string }) => b.bootId)).toEqual(['00000000-0000-4000-8000-000000000003', first]);
  // The tmpfs was the service's alone: nothing of it reached this side.
  expect(existsSync(join(state, 'checkins'))).toBe(false);
  child.kill('SIGTERM');
});

it('reads the MAC of a complete IPv4 neighbour entry, and nothing for an incomplete or missing one', () => {
  const table = [
    'IP address       HW type     Flags       HW address            Mask     Device',
    '10.0.2.15        0x1         0x2         52:54:00:AB:CD:EF     *        br0',
    '10.0.2.16        0x1         0x0         00:00:00:00:00:00     *        br0',
    '',
  ].join('\n');
  expect(neighbourMac('10.0.2.15', table)).toBe('52:54:00:ab:cd:ef');
  expect(neighbourMac('10.0.2.16', table)).toBeUndefined();
  expect(neighbourMac('10.0.2.1', table)).toBeUndefined();
});
