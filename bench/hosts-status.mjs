#!/usr/bin/env node
// `xenroot status --all` over 2 hosts x 100 defined domains (libvirt test-driver node files), against
// `virsh list --all` on each host in the same run (issue 15): goal <= 1.5x the sum of the two virsh calls.
//   node bench/hosts-status.mjs [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const XENROOT = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const runs = Number(process.argv[2] ?? 11);
const N = 100;
const HOSTS = ['xen1', 'xen2'];

const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-hosts-'));
try {
  const mac = (h, i) => `00:16:3e:0${h}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  const uris = HOSTS.map((host, h) => {
    const node = join(dir, `${host}.xml`);
    let xml = '<node>\n';
    for (let i = 0; i < N; i++) {
      xml += `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><test:runstate>5</test:runstate><name>${host}-g${i}</name><memory>65536</memory><os><type>hvm</type></os><devices><interface type='bridge'><mac address='${mac(h, i)}'/><source bridge='xenbr0'/></interface></devices></domain>\n`;
    }
    writeFileSync(node, xml + '</node>\n');
    return `test://${node}`;
  });
  const img = join(dir, 'img');
  mkdirSync(img);
  let inv = `site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\nimages:\n  terminal:\n    root: ${img}\n    kver: 6.1.0-28-amd64\nguests:\n`;
  HOSTS.forEach((host, h) => {
    for (let i = 0; i < N; i++) inv += `  ${host}-g${i}:\n    image: terminal\n    host: ${host}\n    mac: ${mac(h, i)}\n    macSource: first-boot\n`;
  });
  inv += 'clients:\nhosts:\n' + HOSTS.map((host, h) => `  ${host}:\n    connect: "${uris[h]}"\n`).join('');
  const invFile = join(dir, 'inventory.yaml');
  writeFileSync(invFile, inv);

  const once = (cmd, args) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
    return { ms, out: r.stdout };
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  // Interleaved, so that load changes on a shared machine hit every case alike.
  const virshSum = [];
  const status = [];
  const list = [];
  for (let i = 0; i < runs; i++) {
    const parts = uris.map((u) => once('virsh', ['-c', u, 'list', '--all']));
    if (i === 0) for (const p of parts) if (p.out.split('\n').filter((l) => /-g\d+/.test(l)).length !== N) throw new Error('virsh did not list 100 domains');
    virshSum.push(parts[0].ms + parts[1].ms);
    const s = once(process.execPath, [XENROOT, '--inventory', invFile, '--json', 'status', '--all']);
    if (i === 0) {
      const rows = JSON.parse(s.out);
      if (rows.length !== 2 * N || rows.some((r) => r.state !== 'shutoff' || !HOSTS.includes(r.host))) throw new Error('xenroot status did not see every guest on its host');
    }
    status.push(s.ms);
    list.push(once(process.execPath, [XENROOT, '--inventory', invFile, '--json', 'list']).ms);
  }
  const bare = median(Array.from({ length: runs }, () => once(process.execPath, ['-e', '0']).ms));
  const v = median(virshSum);
  const st = median(status);
  const li = median(list);
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`runs per case (median): ${runs}; ${HOSTS.length} hosts x ${N} domains (test-driver node files)`);
  console.log(`node -e 0                            ${fmt(bare)}`);
  console.log(`virsh list --all, sum over 2 hosts   ${fmt(v)}`);
  console.log(`xenroot list --json                  ${fmt(li)}  (inventory only, no hypervisor)`);
  console.log(`xenroot status --all --json          ${fmt(st)}  ratio ${(st / v).toFixed(2)}x (goal <= 1.5x); hypervisor share ${fmt(st - li)} = ${((st - li) / v).toFixed(2)}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
