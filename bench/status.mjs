#!/usr/bin/env node
// `xenroot status` over 100 defined domains on libvirt's test driver, against `virsh list --all`
// on the same driver file in the same run (each a fresh process, as a user runs them).
//   node bench/status.mjs [runs]
// test:///default lives per process, so the 100 domains are in a test-driver node file
// (test:///PATH.xml); the inventory holds the same 100 guests with that URI as the site default.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const XENROOT = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const runs = Number(process.argv[2] ?? 11);
const N = 100;

const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-status-'));
try {
  const node = join(dir, 'node.xml');
  let xml = '<node>\n';
  for (let i = 0; i < N; i++) {
    const mac = `00:16:3e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    // Defined and shut off (test:runstate 5), as domains defined by `xenroot define` are.
    xml += `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><test:runstate>5</test:runstate><name>guest${i}</name><memory>65536</memory><os><type>hvm</type></os><devices><interface type='bridge'><mac address='${mac}'/><source bridge='xenbr0'/></interface></devices></domain>\n`;
  }
  writeFileSync(node, xml + '</node>\n');
  const uri = `test://${node}`;

  const img = join(dir, 'img');
  mkdirSync(img);
  let inv = `site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  connect: "${uri}"\nimages:\n  terminal:\n    root: ${img}\n    kver: 6.1.0-28-amd64\nguests:\n`;
  for (let i = 0; i < N; i++) {
    const mac = `00:16:3e:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    inv += `  guest${i}:\n    image: terminal\n    mac: ${mac}\n    macSource: first-boot\n`;
  }
  const invFile = join(dir, 'inventory.yaml');
  writeFileSync(invFile, inv + 'clients:\n');

  const time = (cmd, args, check) => {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
      if (i === 0) check(r.stdout);
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  };

  const virsh = time('virsh', ['-c', uri, 'list', '--all'], (out) => {
    const rows = out.split('\n').filter((l) => /guest\d+/.test(l));
    if (rows.length !== N) throw new Error(`virsh listed ${rows.length} domains, expected ${N}`);
  });
  const status = time(process.execPath, [XENROOT, '--inventory', invFile, '--json', 'status'], (out) => {
    const rows = JSON.parse(out);
    if (rows.length !== N || rows.some((r) => r.state !== 'shutoff')) throw new Error(`xenroot status saw ${rows.length} guests, not all on the driver`);
  });
  // The same inventory without asking a hypervisor: what status adds on top of loading it.
  const list = time(process.execPath, [XENROOT, '--inventory', invFile, '--json', 'list'], () => {});
  const bare = time(process.execPath, ['-e', '0'], () => {});
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(`runs per case (median): ${runs}; ${N} domains on ${uri.replace(dir, '$TMP')}`);
  console.log(`node -e 0                      ${fmt(bare)}`);
  console.log(`virsh list --all               ${fmt(virsh)}`);
  console.log(`xenroot list --json            ${fmt(list)}  (inventory only, no hypervisor)`);
  console.log(`xenroot status --json          ${fmt(status)}  ratio ${(status / virsh).toFixed(2)}x virsh list --all; hypervisor share ${fmt(status - list)} = ${((status - list) / virsh).toFixed(2)}x virsh`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
