#!/usr/bin/env node
/**
 * bench/sync: a fleet of 10,000 PXE clients (imported from one CSV) and 100 guests.
 * Every case is timed as the user runs it (the CLI) against baselines measured in the same run:
 *   - `node -e 0` (process start-up), for the small cases;
 *   - `cp -r` of exactly the tree the sync made (xenroot's own state left out), with and without a
 *     `sync -f` after it (sync is durable: its data is on disk before its renames), and a minimal
 *     Node loop writing the same files (mkdir + writeFileSync/copyFileSync), for the full sync.
 * Full syncs and their baselines run interleaved, ROUNDS times, each into a fresh directory, with a
 * `sync -f` before each timed step, and the medians are compared: on this machine (a VM whose
 * freed memory goes back to the host) whichever step first fills fresh page cache pays for it,
 * so a single `cp -r` swung from 0.6 s to 7 s between two runs.
 * Usage: npm run -s build && node bench/sync.mjs [--clients N] [--guests N] [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const repo = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CLIENTS = arg('--clients', 10_000);
const GUESTS = arg('--guests', 100);
const ROUNDS = arg('--rounds', 4);
const KVER = '6.1.0-99-amd64';

const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-sync-'));
const inventory = join(dir, 'inventory.yaml');
const state = join(dir, 'state');
const env = { ...process.env, XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: state };

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
  const guests = {};
  for (let i = 0; i < GUESTS; i++) guests[`guest${i}`] = { image: 'terminal', mac: mac(i, 'guest'), macSource: 'given' };
  const doc = {
    site: { nfsServer: '10.0.0.1', allow: ['10.0.0.0/16'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install' },
    images: { terminal: { root: join(dir, 'img'), kver: KVER } },
    groups: { lab: { image: 'terminal', names: 'pc{nnnnn}' }, quiet: { image: 'terminal', append: 'quiet' } },
    guests,
    clients: {},
  };
  writeFileSync(inventory, '# bench inventory\n' + stringify(doc).replace('clients: {}', 'clients:'));
  // Clients come as a roomful does: one CSV (every tenth in the group with its own kernel argument).
  const rows = ['mac,name,group'];
  for (let i = 0; i < CLIENTS; i++) rows.push(`${mac(i, 'client')},pc${String(i).padStart(5, '0')},${i % 10 === 0 ? 'quiet' : 'lab'}`);
  writeFileSync(join(dir, 'fleet.csv'), rows.join('\n') + '\n');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// CPU time (user + system) and peak RSS by /usr/bin/time beside wall time.
const timeFile = join(dir, 'time.txt');
function timed(cmd, args, opts = {}) {
  spawnSync('sync', ['-f', dir]); // the previous step's writeback is not billed to this one
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const [u, sy, rss] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, cpu: (u + sy) * 1000, rssMiB: rss / 1024, r };
}

function cli(args) {
  const t = timed('node', [join(repo, 'bin/xenroot.js'), '--json', ...args]);
  return { ...t, out: t.r.stdout ? JSON.parse(t.r.stdout) : undefined };
}

/** Every file and symbolic link of a synced root but xenroot's own state (the manifest and its model). */
function listTree(root) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (p !== join(root, state)) walk(p);
      } else out.push({ p, link: e.isSymbolicLink() ? readlinkSync(p) : undefined });
    }
  };
  walk(root);
  return out;
}

const stats = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const f0 = (x) => x.toFixed(0);

setup();
const starts = Array.from({ length: 7 }, () => timed('node', ['-e', '0']));
const nodeStart = median(starts.map((x) => x.ms));
const nodeCpu = median(starts.map((x) => x.cpu));

const imported = cli(['client', 'import', join(dir, 'fleet.csv')]);
if (imported.out.counts.added !== CLIENTS) throw new Error(`import added ${imported.out.counts.added}`);
const invSize = statSync(inventory).size;

// The minimal Node loop: the same files, written plainly (no temp, no flush, no rename).
const loopScript = join(dir, 'loop.mjs');
writeFileSync(
  loopScript,
  `import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
const [list, dest] = process.argv.slice(2);
const made = new Set();
for (const { rel, b64, source, link } of JSON.parse(readFileSync(list, 'utf8'))) {
  const p = join(dest, rel);
  const d = dirname(p);
  if (!made.has(d)) { mkdirSync(d, { recursive: true }); made.add(d); }
  if (link !== undefined) symlinkSync(link, p); else if (source) copyFileSync(source, p); else writeFileSync(p, Buffer.from(b64, 'base64'));
}
`,
);

const rounds = [];
let files = 0;
for (let k = 0; k < ROUNDS; k++) {
  const root = join(dir, `root${k}`);
  // The tree to copy: round 0 syncs first (there is nothing to copy yet); later rounds copy round 0's.
  const first = join(dir, 'root0');
  const srcs = [join(first, 'tftpboot'), join(first, 'etc'), join(first, dir, 'guests')];
  mkdirSync(join(dir, `cp${k}`));
  mkdirSync(join(dir, `cps${k}`));
  const steps = {
    full: () => cli(['sync', '--root', root]),
    // cp -r of exactly the synced files: the TFTP tree, /etc (DHCP, exports) and the guests' files.
    cp: () => timed('cp', ['-r', ...srcs, join(dir, `cp${k}`)]),
    cpSync: () => timed('sh', ['-c', `cp -r ${srcs.map((s) => `'${s}'`).join(' ')} '${join(dir, `cps${k}`)}' && sync -f '${dir}'`]),
    loop: () => timed('node', [loopScript, join(dir, 'list.json'), join(dir, `loop${k}`)]),
  };
  // Each round runs the four in another order, so that no case always comes first (see above).
  const order = k === 0 ? ['full', 'cp', 'cpSync', 'loop'] : ['full', 'cp', 'cpSync', 'loop'].map((_, i, a) => a[(i + k) % a.length]);
  const r = {};
  for (const step of order) {
    r[step] = steps[step]();
    if (k === 0 && step === 'full') {
      const tree = listTree(root);
      files = tree.length;
      // Links as links (the per-node switches), big files copied, the rest as bytes (pieces are gzip).
      const list = tree.map(({ p, link }) => {
        const rel = relative(root, p);
        if (link !== undefined) return { rel, link };
        return statSync(p).size > 1 << 20 ? { rel, source: p } : { rel, b64: readFileSync(p).toString('base64') };
      });
      writeFileSync(join(dir, 'list.json'), JSON.stringify(list));
    }
  }
  rounds.push(r);
}

const root = join(dir, 'root0');
const noops = Array.from({ length: 5 }, () => cli(['sync', '--root', root]));
const written = noops.reduce((n, r) => n + r.out.counts.created + r.out.counts.updated + r.out.counts.removed, 0);

const changed = [];
const edits = [];
for (let i = 0; i < 3; i++) {
  edits.push(cli(['client', 'set', `pc${String(100 + i).padStart(5, '0')}`, '--append', `console=ttyS${i}`]));
  changed.push(cli(['sync', '--root', root]));
}
const add = cli(['client', 'add', '52:54:00:ff:ff:01', '--name', 'newcomer', '--group', 'lab']);
const added = cli(['sync', '--root', root]);
const lists = Array.from({ length: 5 }, () => cli(['client', 'list']));

const full = stats(rounds.map((r) => r.full.ms));
const cp = stats(rounds.map((r) => r.cp.ms));
const cpSync = stats(rounds.map((r) => r.cpSync.ms));
const loop = stats(rounds.map((r) => r.loop.ms));
const perRound = rounds.map((r) => (r.full.ms / r.cp.ms).toFixed(2));
const noop = stats(noops.map((r) => r.ms));
const one = stats(changed.map((r) => r.ms));
const list = stats(lists.map((r) => r.ms));
const rss = median(rounds.map((r) => r.full.rssMiB));
const ratio = (a, b) => (a / b).toFixed(2);
const line = (what, s, base, baseName, target) =>
  `${what.padEnd(38)} ${f0(s.median).padStart(6)} ms (${f0(s.min)}-${f0(s.max)})  ${ratio(s.median, base).padStart(5)}x ${baseName}${target ? `  target <= ${target}x: ${s.median / base <= target ? 'met' : 'NOT met'}` : ''}`;

console.log(`fleet: ${CLIENTS} clients (imported from CSV), ${GUESTS} guests, ${(invSize / 1024).toFixed(0)} KiB YAML; synced tree: ${files} files and links`);
console.log(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}; ${ROUNDS} interleaved rounds for the full sync`);
console.log(`client import of ${CLIENTS} from one CSV: ${f0(imported.ms)} ms wall, ${f0(imported.cpu)} ms cpu, peak RSS ${imported.rssMiB.toFixed(0)} MiB`);
console.log(`baselines: node -e 0 ${f0(nodeStart)} ms (cpu ${f0(nodeCpu)} ms); cp -r ${f0(cp.median)} ms (${f0(cp.min)}-${f0(cp.max)}); cp -r + sync -f ${f0(cpSync.median)} ms; Node write loop ${f0(loop.median)} ms`);
console.log(line('full sync from empty', full, cp.median, 'cp -r', 1.5) + `; ${ratio(full.median, cpSync.median)}x cp -r + sync -f; ${ratio(full.median, loop.median)}x Node loop; per round ${perRound.join(' ')}x cp -r`);
console.log(`  full sync: peak RSS ${rss.toFixed(0)} MiB, cpu ${f0(median(rounds.map((r) => r.full.cpu)))} ms (cp -r cpu ${f0(median(rounds.map((r) => r.cp.cpu)))} ms), in-process ${JSON.stringify(rounds[0].full.out.ms)}`);
console.log(line('no-op re-sync', noop, nodeStart, 'node -e 0', 2.5) + `; files written over ${noops.length} runs: ${written}; cpu ${f0(median(noops.map((r) => r.cpu)))} ms`);
console.log(line('one client changed, then sync', one, nodeStart, 'node -e 0', 3) + `; ${changed[0].out.mode}, ${JSON.stringify(changed[0].out.counts)}, in-process ${JSON.stringify(changed[0].out.ms)}`);
console.log(`  the edit itself (client set): ${f0(median(edits.map((r) => r.ms)))} ms; one client added (client add ${f0(add.ms)} ms), then sync ${f0(added.ms)} ms = ${ratio(added.ms, nodeStart)}x node -e 0 (${added.out.mode})`);
console.log(line('client list (10,000)', list, nodeStart, 'node -e 0', 2) + `; cpu ${f0(median(lists.map((r) => r.cpu)))} ms`);
rmSync(dir, { recursive: true, force: true });
if (written !== 0) {
  console.error('FAIL: a no-op re-sync wrote files');
  process.exitCode = 1;
}
