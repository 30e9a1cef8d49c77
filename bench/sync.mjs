#!/usr/bin/env node
/**
 * bench/sync: an inventory of 10,000 clients and 100 guests.
 *   1. full sync from empty, 2. no-op re-sync (must write zero files), 3. add one client, then sync.
 * Each is timed as the user runs it (the CLI, `node bin/xenroot.js ...`) against baselines measured
 * in the same run: `node -e 0` (process start-up) and `cp -r` of the tree the sync made.
 * In-process timings (load / plan / apply) say where the time goes.
 * Usage: npx tsc -p . && node bench/sync.mjs [--clients N] [--guests N]
 * Targets (issue 5): full < 2 s, no-op < 0.5 s with 0 files written, one-client change < 0.5 s.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const repo = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CLIENTS = arg('--clients', 10_000);
const GUESTS = arg('--guests', 100);
const KVER = '6.1.0-99-amd64';

const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-sync-'));
const root = join(dir, 'root');
const inventory = join(dir, 'inventory.yaml');
const env = { ...process.env, XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };

function mac(i, kind) {
  const b = [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0'));
  return `${kind === 'guest' ? '00:16:3e' : '52:54:00'}:${b.join(':')}`;
}

function setup() {
  mkdirSync(join(dir, 'boot/terminal'), { recursive: true });
  mkdirSync(join(dir, 'img'));
  // A kernel- and initrd-sized pair of files (8 MB, 30 MB).
  writeFileSync(join(dir, 'boot/terminal', `vmlinuz-${KVER}`), Buffer.alloc(8 << 20, 1));
  writeFileSync(join(dir, 'boot/terminal', `initrd-${KVER}-pxe.img`), Buffer.alloc(30 << 20, 2));
  const clients = {};
  for (let i = 0; i < CLIENTS; i++) clients[`pc${String(i).padStart(5, '0')}`] = { mac: mac(i, 'client'), image: 'terminal', ...(i % 10 === 0 ? { append: 'quiet' } : {}) };
  const guests = {};
  for (let i = 0; i < GUESTS; i++) guests[`guest${i}`] = { image: 'terminal', mac: mac(i, 'guest'), macSource: 'given' };
  const doc = {
    site: { nfsServer: '10.0.0.1', allow: ['10.0.0.0/16'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install' },
    images: { terminal: { root: join(dir, 'img'), kver: KVER } },
    guests,
    clients,
  };
  writeFileSync(inventory, '# bench inventory\n' + stringify(doc));
}

function time(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}

// CPU time (user + system, by /usr/bin/time) beside wall time: on a shared, loaded machine the
// wall clock says more about the neighbours than about xenroot.
const cpuFile = join(dir, 'cpu.txt');
function timed(cmd, args, opts = {}) {
  const { ms, r } = time(() => spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, cmd, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 30, ...opts }));
  const [u, sy] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ms, cpu: (u + sy) * 1000, r };
}

function cli(args) {
  const { ms, cpu, r } = timed('node', [join(repo, 'bin/xenroot.js'), '--json', ...args]);
  if (r.status !== 0) throw new Error(`xenroot ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, cpu, out: r.stdout ? JSON.parse(r.stdout) : undefined };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function countFiles(d) {
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) n += e.isDirectory() ? countFiles(join(d, e.name)) : 1;
  return n;
}

setup();
const invSize = statSync(inventory).size;
const starts = [0, 1, 2].map(() => timed('node', ['-e', '0']));
const nodeStart = median(starts.map((x) => x.ms));
const nodeStartCpu = median(starts.map((x) => x.cpu));

const full = cli(['sync', '--root', root]);
const files = countFiles(root);
const cps = [0, 1, 2].map((i) => timed('cp', ['-r', root, join(dir, `cp${i}`)]));
const cp = median(cps.map((x) => x.ms));
const cpCpu = median(cps.map((x) => x.cpu));
for (let i = 0; i < 3; i++) rmSync(join(dir, `cp${i}`), { recursive: true });

const noops = [0, 1, 2].map(() => cli(['sync', '--root', root]));
const noop = noops[noops.length - 1];
const written = noops.reduce((n, r) => n + r.out.counts.created + r.out.counts.updated + r.out.counts.removed, 0);

const add = cli(['client', 'add', '52:54:00:ff:ff:01', '--name', 'newcomer']);
const one = cli(['sync', '--root', root]);

const list = cli(['client', 'list']);

const row = (what, r, target, extra = '') =>
  `${what.padEnd(34)} wall ${r.ms.toFixed(0).padStart(6)} ms (${(r.ms / nodeStart).toFixed(1).padStart(4)}x node-start) cpu ${r.cpu.toFixed(0).padStart(5)} ms (${(r.cpu / nodeStartCpu).toFixed(1).padStart(4)}x)  ${
    target ? `${r.ms < target ? 'wall ok ' : 'wall MISS'} ${r.cpu < target ? 'cpu ok ' : 'cpu MISS'} (target ${target} ms)` : ''
  } ${extra}`;
console.log(`inventory: ${CLIENTS} clients, ${GUESTS} guests, ${(invSize / 1024).toFixed(0)} KiB YAML; tree: ${files} files`);
console.log(`load average: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
console.log(`baselines: node -e 0 = ${nodeStart.toFixed(0)} ms wall, ${nodeStartCpu.toFixed(0)} ms cpu; cp -r of the synced tree = ${cp.toFixed(0)} ms wall, ${cpCpu.toFixed(0)} ms cpu`);
console.log(row('full sync from empty', full, 2000, `= ${(full.ms / cp).toFixed(2)}x cp -r wall; in-process ${JSON.stringify(full.out.ms)}; ${JSON.stringify(full.out.counts)}`));
console.log(row('no-op re-sync', noop, 500, `in-process ${JSON.stringify(noop.out.ms)}; files written over 3 runs: ${written}`));
console.log(row('client add', add, 0, ''));
console.log(row('sync after one client added', one, 500, `in-process ${JSON.stringify(one.out.ms)}; ${JSON.stringify(one.out.counts)}`));
console.log(row('client list (load only)', list, 0, ''));
rmSync(dir, { recursive: true, force: true });
if (written !== 0) {
  console.error('FAIL: a no-op re-sync wrote files');
  process.exitCode = 1;
}
