#!/usr/bin/env node
// The boot service (`xenroot serve`) against what it replaces, on loopback, in one run:
//   node bench/serve.mjs [runs] [transfer|checkins|rss]   (one part only; default all)
// 1. Transfer the way a room boots: 1 and 40 concurrent clients each fetch a kernel and an initrd
//    (the built-in initrd's sizes and dracut's) from tftpd-hpa (blksize 1468, as iPXE negotiates it)
//    and from the service over HTTP. The client is the same program for both (curl: tftp:// with
//    --tftp-blksize 1468, http://), so the ratio is the servers'. Wall time of the whole room.
// 2. Check-ins: 1,000 concurrent POST /checkin, each from its node's reserved loopback address;
//    latency p50/p99 and wall time, beside 1,000 concurrent GETs of a small boot file from the same
//    service (same connections, no disk write: the baseline of the same run).
// 3. The service's RSS (VmRSS, after one request) with 1 and with 10,000 nodes in the inventory.
// Needs root (in.tftpd binds and drops to nobody), tftpd-hpa and curl (scripts/setup.sh).
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const XENROOT = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const runs = Number(process.argv[2] ?? 3);
const only = process.argv[3];
const part = (name) => !only || only === name;
const MB = 1024 * 1024;
// Sizes measured here: Debian 12's vmlinuz-6.1 (7.9 MB), xenroot's built-in pxe initrd (2.4 MB),
// dracut 059's network initrd (27.9 MB); FIELD-NOTES.md.
const SETS = {
  builtin: { kernel: 7.9 * MB, initrd: 2.4 * MB },
  dracut: { kernel: 7.9 * MB, initrd: 27.9 * MB },
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-serve-'));
chmodSync(dir, 0o755);
const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const mac = (i) => `52:54:00:ee:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const addr = (i) => `127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`;

function writeInventory(file, n) {
  const clients = Array.from({ length: n }, (_, i) => `  n${i}:\n    mac: ${mac(i)}\n    image: tiny\n    address: ${addr(i)}/8\n`).join('');
  writeFileSync(file, `site:\n  nfsServer: 127.0.0.1\n  allow: [127.0.0.0/8]\n  tftpRoot: ${dir}/tftp\n  exportRoot: ${dir}/srv\n  bootDir: ${dir}/boot\n  identity:\n    hostKeys: []\nimages:\n  tiny:\n    root: ${dir}/tiny\n    kver: 6.1.0-test\nclients:\n${clients}`);
}

/** `xenroot serve` on a free loopback port; resolves with its URL and process. */
async function startServe(inv, state) {
  const child = spawn('node', [XENROOT, 'serve', '--listen', '127.0.0.1:0'], {
    env: { ...process.env, XENROOT_INVENTORY: inv, XENROOT_STATE_DIR: state, XENROOT_LOG_JSON: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const url = await new Promise((res, rej) => {
    let buf = '';
    let found = false;
    child.stderr.on('data', (d) => {
      if (found) return; // one log line per request: read and dropped
      buf += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*boot service listening/.exec(buf);
      if (m) {
        found = true;
        res(m[1]);
      }
    });
    child.on('exit', (code) => rej(new Error(`serve exited ${code}: ${buf}`)));
  });
  return { child, url, stop: () => new Promise((res) => (child.exitCode !== null ? res() : (child.on('exit', res), child.kill('SIGTERM')))) };
}

/** One client: curl fetching the kernel, then the initrd; resolves when both are in. */
function curlClient(urls, extra) {
  return new Promise((res, rej) => {
    const c = spawn('curl', ['-sSf', ...extra, ...urls.flatMap((u) => ['-o', '/dev/null', u])], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => (code === 0 ? res() : rej(new Error(`curl ${urls.join(' ')}: exit ${code} ${err}`))));
  });
}

/** Wall time (s) of `clients` concurrent clients each fetching the set. */
async function room(clients, urls, extra) {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, () => curlClient(urls, extra)));
  return (performance.now() - t0) / 1000;
}

/** One HTTP request from a given local address; resolves with [status, ms]. */
function timed(url, opts, body) {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((res) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, agent: false, ...opts }, (r) => {
      r.resume();
      r.on('end', () => res([r.statusCode ?? 0, performance.now() - t0]));
    });
    req.on('error', () => res([0, performance.now() - t0]));
    req.end(body);
  });
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

const inv = join(dir, 'inventory.yaml');
const tftp = join(dir, 'tftp');
mkdirSync(join(tftp, 'images'), { recursive: true });
chmodSync(tftp, 0o755);
for (const [name, set] of Object.entries(SETS)) {
  for (const part of ['kernel', 'initrd']) writeFileSync(join(tftp, 'images', `${name}-${part}`), randomBytes(Math.round(set[part])), { mode: 0o644 });
}
chmodSync(join(tftp, 'images'), 0o755);
writeFileSync(join(tftp, 'small'), randomBytes(1024), { mode: 0o644 });

// ---- 1. transfer ----------------------------------------------------------------------------
let serve;
if (part('transfer')) {
  const tftpPort = await freePort();
  const tftpd = spawn('in.tftpd', ['-L', '-a', `127.0.0.1:${tftpPort}`, '-s', tftp, '-B', '1468'], { stdio: 'ignore' });
  children.push(tftpd);
  writeInventory(inv, 1);
  serve = await startServe(inv, join(dir, 'state'));
  for (const [name] of Object.entries(SETS)) {
    const files = ['kernel', 'initrd'].map((p) => `images/${name}-${p}`);
    for (const clients of [1, 40]) {
      const t = [];
      const h = [];
      for (let r = 0; r < runs; r++) {
        t.push(await room(clients, files.map((f) => `tftp://127.0.0.1:${tftpPort}/${f}`), ['--tftp-blksize', '1468']));
        h.push(await room(clients, files.map((f) => `${serve.url}/boot/${f}`), []));
      }
      console.log(`transfer ${name} (${((SETS[name].kernel + SETS[name].initrd) / MB).toFixed(1)} MB) x${clients} clients: tftpd-hpa ${median(t).toFixed(2)} s [${t.map((x) => x.toFixed(2)).join(' ')}], xenroot serve HTTP ${median(h).toFixed(2)} s [${h.map((x) => x.toFixed(2)).join(' ')}], HTTP/TFTP ${(median(h) / median(t)).toFixed(3)}x`);
    }
  }
  tftpd.kill('SIGTERM');
  await serve.stop();
}

// ---- 2. check-ins -----------------------------------------------------------------------------
const N = 1000;
if (part('checkins')) writeInventory(inv, N);
for (let r = 0; part('checkins') && r < runs; r++) {
  const state = join(dir, `state-${r}`);
  serve = await startServe(inv, state);
  // Warm: the first request reads the inventory.
  await timed(`${serve.url}/boot/images/builtin-initrd`, { method: 'HEAD' });
  const t0 = performance.now();
  const gets = await Promise.all(Array.from({ length: N }, (_, i) => timed(`${serve.url}/boot/small`, { localAddress: addr(i) })));
  const getWall = performance.now() - t0;
  const bootId = (i) => `00000000-0000-4000-8000-${(r * N + i).toString(16).padStart(12, '0')}`;
  const t1 = performance.now();
  const posts = await Promise.all(
    Array.from({ length: N }, (_, i) => {
      const body = JSON.stringify({ bootId: bootId(i), mac: mac(i), revision: null, initrd: 'builtin', kernel: '6.1.0-test', state: 'running' });
      return timed(`${serve.url}/checkin`, { method: 'POST', localAddress: addr(i), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, body);
    }),
  );
  const postWall = performance.now() - t1;
  const ok = posts.filter(([s]) => s === 200).length;
  if (ok !== N) throw new Error(`only ${ok} of ${N} check-ins answered 200: ${[...new Set(posts.map(([s]) => s))].join(',')}`);
  const pl = posts.map(([, ms]) => ms);
  const gl = gets.map(([, ms]) => ms);
  console.log(`check-ins x${N} concurrent (run ${r + 1}): p50 ${pct(pl, 50).toFixed(0)} ms, p99 ${pct(pl, 99).toFixed(0)} ms, all in ${postWall.toFixed(0)} ms; baseline GET of a 1 KiB boot file x${N} (no disk write): p50 ${pct(gl, 50).toFixed(0)} ms, p99 ${pct(gl, 99).toFixed(0)} ms, all in ${getWall.toFixed(0)} ms`);
  await serve.stop();
}

// ---- 3. RSS -----------------------------------------------------------------------------------
for (const n of part('rss') ? [1, 10000] : []) {
  writeInventory(inv, n);
  serve = await startServe(inv, join(dir, 'state-rss'));
  const [status] = await timed(`${serve.url}/boot/images/builtin-kernel`, { method: 'HEAD' });
  if (status !== 200) throw new Error(`HEAD of a boot file: ${status}`);
  // A check-in makes the service look the node up in the model it holds.
  const body = JSON.stringify({ bootId: '00000000-0000-4000-8000-00000000ffff', mac: mac(0), revision: null, initrd: 'builtin', kernel: '6.1.0-test', state: 'running' });
  const [c] = await timed(`${serve.url}/checkin`, { method: 'POST', localAddress: addr(0), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, body);
  if (c !== 200) throw new Error(`check-in with ${n} nodes: ${c}`);
  console.log(`serve RSS with ${n} node(s) in the inventory: ${(rssKiB(serve.child.pid) / 1024).toFixed(1)} MiB`);
  await serve.stop();
}
const node0 = spawnSync('node', ['-e', 'console.log(/VmRSS:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status","utf8"))[1])'], { encoding: 'utf8' });
console.log(`baseline: RSS of \`node -e\` ${(Number(node0.stdout) / 1024).toFixed(1)} MiB`);
process.exit(0);
