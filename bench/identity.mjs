#!/usr/bin/env node
/**
 * bench/identity: what per-node identity (issue 13) costs a sync, against baselines in the same run.
 *   1. SSH host keys: ed25519 made in-process (deploy/host-keys.ts) vs one `ssh-keygen -t ed25519`
 *      per node (the baseline that motivated it), per key.
 *   2. First full sync of N clients (CLI) with site.identity.hostKeys [ed25519] (keys made, pieces
 *      built) vs the same inventory with hostKeys [] (pieces without keys): the cost of the keys.
 *   3. A full re-plan after an unrelated change (one client's append): pieces are not rebuilt.
 * Usage: npm run -s build && node bench/identity.mjs [--clients N]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const repo = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const CLIENTS = arg('--clients', 2000);
const KVER = '6.1.0-99-amd64';
const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-identity-'));

const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;

// 1. keys
const { ed25519HostKey } = await import(join(repo, 'dist/deploy/host-keys.js'));
const K = 200;
let t = process.hrtime.bigint();
for (let i = 0; i < K; i++) ed25519HostKey(`root@pc${i}`);
const inProcess = ms(t) / K;
t = process.hrtime.bigint();
for (let i = 0; i < K; i++) {
  const f = join(dir, `k${i}`);
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@pc${i}`, '-f', f], { stdio: 'ignore' });
}
const keygen = ms(t) / K;
console.log(`ed25519 host key: in-process ${inProcess.toFixed(2)} ms, ssh-keygen ${keygen.toFixed(2)} ms (baseline) -> ${(keygen / inProcess).toFixed(0)}x faster`);

// 2. first full sync with and without keys
function site(name, hostKeys) {
  const d = join(dir, name);
  mkdirSync(join(d, 'boot/terminal'), { recursive: true });
  mkdirSync(join(d, 'img'));
  writeFileSync(join(d, 'boot/terminal', `vmlinuz-${KVER}`), Buffer.alloc(1 << 20, 1));
  writeFileSync(join(d, 'boot/terminal', `initrd-${KVER}-pxe.img`), Buffer.alloc(4 << 20, 2));
  const clients = {};
  for (let i = 0; i < CLIENTS; i++) {
    const b = [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0'));
    clients[`pc${String(i).padStart(5, '0')}`] = { mac: `52:54:00:${b.join(':')}`, image: 'terminal', files: { '/etc/motd': `pc ${i}\n` } };
  }
  const doc = { site: { nfsServer: '10.0.0.1', allow: ['10.0.0.0/16'], bootDir: join(d, 'boot'), identity: { hostKeys } }, images: { terminal: { root: join(d, 'img'), kver: KVER } }, guests: {}, clients };
  writeFileSync(join(d, 'inventory.yaml'), stringify(doc));
  return d;
}
function sync(d, ...extra) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(repo, 'bin/xenroot.js'), '-i', join(d, 'inventory.yaml'), ...extra, 'sync', '--root', join(d, 'root')], { env: { ...process.env, XENROOT_STATE_DIR: join(d, 'state') }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return ms(t0);
}
const withKeys = site('keys', ['ed25519']);
const without = site('nokeys', []);
const noKeysMs = sync(without);
const keysMs = sync(withKeys);
console.log(`first full sync of ${CLIENTS} clients: with host keys ${keysMs.toFixed(0)} ms, without (baseline) ${noKeysMs.toFixed(0)} ms -> ${(keysMs / noKeysMs).toFixed(2)}x`);

// 3. a full re-plan after one unrelated change: every piece keeps its key, none is rebuilt
spawnSync(process.execPath, [join(repo, 'bin/xenroot.js'), '-i', join(withKeys, 'inventory.yaml'), 'client', 'set', 'pc00000', '--append', 'quiet'], { env: { ...process.env, XENROOT_STATE_DIR: join(withKeys, 'state') } });
const replan = sync(withKeys);
console.log(`full re-plan after one client's change: ${replan.toFixed(0)} ms (vs the first sync ${keysMs.toFixed(0)} ms)`);
rmSync(dir, { recursive: true, force: true });
