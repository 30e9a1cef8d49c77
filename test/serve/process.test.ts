/**
 * `xenroot serve` as a process on loopback (the built CLI): the systemd unit it prints, a bad
 * --listen, SIGHUP reading the inventory anew, SIGTERM draining and exiting 0, and a SIGKILL
 * during 200 concurrent check-ins losing none that was acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { XENROOT, xenroot } from '../support/cli.js';

let dir: string;
let inv: string;
let env: Record<string, string>;
const children: ChildProcess[] = [];

const mac = (i: number) => `52:54:00:dd:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const addr = (i: number) => `127.0.${6 + (i >> 8)}.${(i & 255) + 1}`;

function writeInventory(n: number): void {
  const clients = Array.from({ length: n }, (_, i) => `  n${i}:\n    mac: ${mac(i)}\n    image: tiny\n    address: ${addr(i)}/8\n`).join('');
  writeFileSync(inv, `site:\n  nfsServer: 127.0.0.1\n  allow: [127.0.0.0/8]\n  tftpRoot: ${dir}/tftp\n  exportRoot: ${dir}/srv\n  bootDir: ${dir}/boot\n  identity:\n    hostKeys: []\nimages:\n  tiny:\n    root: ${dir}/tiny\n    kver: 6.1.0-test\nclients:\n${clients}`);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-serve-proc-'));
  mkdirSync(join(dir, 'tftp'));
  inv = join(dir, 'inventory.yaml');
  env = { XENROOT_INVENTORY: inv, XENROOT_STATE_DIR: join(dir, 'state'), XENROOT_LOG_JSON: '1' };
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the service on a free loopback port; resolves with its URL and the log lines so far. */
async function startServe(): Promise<{ child: ChildProcess; url: string; lines: string[]; exit: Promise<number | null> }> {
  const child = spawn('node', [XENROOT, 'serve', '--listen', '127.0.0.1:0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*boot service listening/.exec(l);
        if (m) res(m[1]!);
      }
    });
    void exit.then((code) => rej(new Error(`serve exited ${code}: ${lines.join('\n')}`)));
  });
  return { child, url, lines, exit };
}

/** POST /checkin of node i from its reserved address; resolves with the status (0: no answer). */
function postCheckin(url: string, i: number, bootId: string): Promise<number> {
  const body = JSON.stringify({ bootId, mac: mac(i), revision: null, initrd: 'builtin', kernel: '6.1.0-test', state: 'running' });
  const u = new URL('/checkin', url);
  return new Promise((res) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress: addr(i), agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
      r.on('error', () => res(0));
    });
    req.on('error', () => res(0));
    req.end(body);
  });
}

it('prints a Type=notify unit with Restart=on-failure, and refuses a bad --listen naming it', async () => {
  writeInventory(1);
  const unit = await xenroot(['serve', '--print-unit', '--listen', '10.0.0.1:8080'], { env });
  expect(unit.code).toBe(0);
  expect(unit.stdout).toMatch(/^Type=notify$/m);
  expect(unit.stdout).toMatch(/^NotifyAccess=all$/m);
  expect(unit.stdout).toMatch(/^Restart=on-failure$/m);
  expect(unit.stdout).toMatch(/^ExecStart=\S+node \S+bin\/xenroot\.js serve --listen 10\.0\.0\.1:8080$/m);
  expect(unit.stdout).toContain(`XENROOT_INVENTORY=${inv}`);
  const bad = await xenroot(['serve', '--listen', '0.0.0.0'], { env });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--listen "0\.0\.0\.0" is not ADDR:PORT/);
});

it('reads the inventory anew on SIGHUP and on change, and stops on SIGTERM with exit code 0', async () => {
  writeInventory(1);
  const s = await startServe();
  expect(await postCheckin(s.url, 0, '00000000-0000-4000-8000-000000000001')).toBe(200);
  expect(await postCheckin(s.url, 1, '00000000-0000-4000-8000-000000000002')).toBe(404);
  writeInventory(2);
  s.child.kill('SIGHUP');
  expect(await postCheckin(s.url, 1, '00000000-0000-4000-8000-000000000002')).toBe(200);
  s.child.kill('SIGTERM');
  expect(await s.exit).toBe(0);
  const log = s.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(log.filter((l) => l.msg === 'answered' || l.msg === 'refused').map((l) => [l.node, l.path, l.from, l.status])).toEqual([
    ['n0', '/checkin', addr(0), 200],
    [undefined, '/checkin', addr(1), 404],
    ['n1', '/checkin', addr(1), 200],
  ]);
  expect(log.some((l) => l.msg === 'inventory read anew')).toBe(true);
});

it('keeps every acknowledged check-in when killed with SIGKILL during 200 concurrent ones', async () => {
  const n = 200;
  writeInventory(n);
  const s = await startServe();
  const bootId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  let acked = 0;
  const statuses = Array.from({ length: n }, (_, i) =>
    postCheckin(s.url, i, bootId(i)).then((code) => {
      // Killed once a quarter of them were answered: the rest are in flight or not yet read.
      if (code === 200 && ++acked === n / 4) s.child.kill('SIGKILL');
      return code;
    }),
  );
  const codes = await Promise.all(statuses);
  await s.exit;
  const ok = codes.flatMap((c, i) => (c === 200 ? [i] : []));
  expect(ok.length).toBeGreaterThanOrEqual(n / 4);
  expect(ok.length).toBeLessThan(n);
  // A new service reads them all back: status of every acknowledged node shows its boot.
  const st = await xenroot(['--json', 'status'], { env });
  expect(st.code).toBe(0);
  const rows = JSON.parse(st.stdout) as { name: string; bootId: string | null; health: string }[];
  for (const i of ok) expect(rows.find((r) => r.name === `n${i}`), `n${i}`).toMatchObject({ bootId: bootId(i), health: 'healthy' });
  for (const i of ok) expect(JSON.parse(readFileSync(join(dir, 'state/checkins', `n${i}.json`), 'utf8')).boots[0].bootId).toBe(bootId(i));
  const again = await startServe();
  expect(await postCheckin(again.url, 0, bootId(999))).toBe(200);
  again.child.kill('SIGTERM');
  expect(await again.exit).toBe(0);
});
