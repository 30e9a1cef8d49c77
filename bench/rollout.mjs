#!/usr/bin/env node
/**
 * bench/rollout: `rollout IMAGE@REV --all --root DIR` of N PXE clients (and 20 guests) between two
 * published revisions, timed in process (the function the CLI calls, without the process start),
 * back and forth ROUNDS times after a first rollout that stages the revisions' boot files.
 * Target (issue 19): <= 1 s for 2,000 clients once the nodes' identity inputs are unchanged.
 *
 * The baseline runs in the same run: `--compare DIR` names another checkout's built tree (e.g. the
 * commit before a change, in a git worktree with `npm run -s build` done); its rollouts run on a
 * site of their own, interleaved with this build's, round by round. Each build runs in a child
 * process of its own (the modules of both cannot share one process).
 * Also printed: a full `sync` of the same site after the rollouts (nothing changed: a no-op).
 * Usage: npm run -s build && node bench/rollout.mjs [--clients N] [--rounds N] [--compare DIR]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const here = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : def;
};
const CLIENTS = Number(arg('--clients', 2000));
const GUESTS = 20;
const ROUNDS = Number(arg('--rounds', 4));

/** Child mode: `--child REPO SITEDIR STEP`: runs one step with REPO's modules, prints JSON. */
async function child(repo, dir, step) {
  process.env.XENROOT_STATE_DIR = join(dir, 'state');
  const dist = (p) => new URL(`dist/${p}`, `file://${resolve(repo)}/`).href;
  const inventory = join(dir, 'inventory.yaml');
  const root = join(dir, 'root');
  const { rollout } = await import(dist('ops/rollout.js'));
  if (step === 'setup') {
    const { publishImage } = await import(dist('ops/revisions.js'));
    // Where rollout --root reads the revisions: under DIR since publish's `root` means "write under
    // DIR" (its source became `from`); a baseline built before that reads them at the site's paths.
    const rooted = readFileSync(new URL(dist('ops/revisions.js')), 'utf8').includes('opts.fromFile');
    const opts = { sync: false, ...(rooted ? { root } : {}) };
    await publishImage(inventory, 'terminal', opts);
    writeFileSync(join(dir, 'img', 'etc-marker'), 'B\n');
    await publishImage(inventory, 'terminal', opts);
    await rollout(inventory, 'terminal@1', { all: true, force: true, root, reload: false });
    await rollout(inventory, 'terminal@2', { all: true, force: true, root, reload: false });
    await rollout(inventory, 'terminal@1', { all: true, force: true, root, reload: false });
    return {};
  }
  if (step === 'sync') {
    const { sync } = await import(dist('ops/sync.js'));
    const t = performance.now();
    const r = await sync(inventory, { root, reload: false });
    return { ms: performance.now() - t, mode: r.mode, counts: r.counts };
  }
  const t = performance.now();
  const r = await rollout(inventory, step, { all: true, force: true, root, reload: false });
  return { ms: performance.now() - t, moved: r.moved.length, counts: r.counts };
}

if (process.argv[2] === '--child') {
  const out = await child(process.argv[3], process.argv[4], process.argv[5]);
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

const run = (repo, dir, step) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', repo, dir, step], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${repo}: ${step} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const dist = new URL('../dist/', import.meta.url);
const { prepareKernel, cacheDir } = await import(new URL('image/debian.js', dist).href);
const { buildTinyImage } = await import(new URL('image/tiny.js', dist).href);
const kernel = await prepareKernel();
const tiny = await buildTinyImage({ dir: join(cacheDir(), 'images', `tiny-${kernel.kver}`), kernel });

function site() {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-rollout-'));
  cpSync(tiny, join(dir, 'img'), { recursive: true, verbatimSymlinks: true });
  const mac = (i, p) => `${p}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const clients = {};
  for (let i = 0; i < CLIENTS; i++) clients[`pc${i}`] = { mac: mac(i, '52:54:00:12'), image: 'terminal' };
  const guests = {};
  for (let i = 0; i < GUESTS; i++) guests[`g${i}`] = { image: 'terminal', mac: mac(i, '00:16:3e:00'), macSource: 'given' };
  writeFileSync(
    join(dir, 'inventory.yaml'),
    '# bench/rollout inventory\n' +
      stringify({
        site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install', revisions: { dir: join(dir, 'revs') } },
        images: { terminal: { root: join(dir, 'img'), kver: kernel.kver } },
        guests,
        clients,
      }),
  );
  return dir;
}

const builds = [{ name: 'this build', repo: here }];
const compare = arg('--compare', undefined);
if (compare) builds.push({ name: `baseline (${compare})`, repo: resolve(compare) });
for (const b of builds) {
  b.dir = site();
  run(b.repo, b.dir, 'setup');
  b.ms = [];
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (let k = 0; k < ROUNDS; k++) {
  const to = k % 2 === 0 ? 'terminal@2' : 'terminal@1';
  // Interleaved, the order alternating, so that neither build always runs first.
  for (const b of k % 2 ? [...builds].reverse() : builds) {
    const r = run(b.repo, b.dir, to);
    if (r.moved !== CLIENTS + GUESTS) throw new Error(`${b.name}: moved ${r.moved}`);
    b.ms.push(r.ms);
    b.counts = r.counts;
  }
}
console.log(`rollout of ${CLIENTS} clients + ${GUESTS} guests between two revisions, in process, ${ROUNDS} rounds; load average ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ')}`);
for (const b of builds) {
  const s = run(b.repo, b.dir, 'sync');
  const m = median(b.ms);
  console.log(
    `${b.name.padEnd(34)} median ${m.toFixed(0)} ms (${b.ms.map((x) => x.toFixed(0)).join(', ')})${b === builds[0] && CLIENTS === 2000 ? `  target <= 1000 ms: ${m <= 1000 ? 'met' : 'NOT met'}` : ''}; files ${JSON.stringify(b.counts)}; sync after: ${s.mode} ${s.ms.toFixed(0)} ms`,
  );
}
if (builds.length > 1) console.log(`ratio this build / baseline: ${(median(builds[0].ms) / median(builds[1].ms)).toFixed(2)}`);
for (const b of builds) rmSync(b.dir, { recursive: true, force: true });
