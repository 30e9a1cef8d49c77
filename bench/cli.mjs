#!/usr/bin/env node
// Start-up and create cost of the CLI, each against bare `node -e 0` in the same run.
//   node bench/cli.mjs [runs]
// Targets: --version under 3x bare node (issue 2); create at 1,000 guests <= 2x bare node (issue 14).
// "create" is timed on an inventory xenroot saved last (its validated model is cached, as after
// any xenroot command), and "create, cold" on one just edited by hand (read and validated in full).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const XENROOT = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const runs = Number(process.argv[2] ?? 15);

function time(args, before) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const env = before?.(i);
    const t = process.hrtime.bigint();
    // xenroot's state (the manifest of generated files) stays in the bench's temp dir.
    const r = spawnSync(process.execPath, args(i, env), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, XENROOT_STATE_DIR: join(dir, 'state') } });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== 0) throw new Error(`${args(i, env).join(' ')} failed: ${r.stderr}`);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

// An inventory of 1,000 guests, written once; each create runs on a fresh copy of it.
const dir = mkdtempSync(join(tmpdir(), 'xenroot-bench-'));
// Removed on any exit, a failed run's too (it left one 1,000-guest inventory per run in /tmp).
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const img = join(dir, 'img');
mkdirSync(join(img, 'boot'), { recursive: true });
mkdirSync(join(img, 'lib/modules/6.1.0-28-amd64'), { recursive: true });
writeFileSync(join(img, 'boot/vmlinuz-6.1.0-28-amd64'), '');
let text = `# bench inventory\nsite:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\nimages:\n  terminal:\n    root: ${img}\n    kver: 6.1.0-28-amd64\nguests:\n`;
for (let i = 0; i < 1000; i++) {
  const mac = `00:16:3e:${((i >> 16) & 0x7f).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
  text += `  guest${i}:\n    image: terminal\n    memory: 512\n    mac: ${mac}\n    macSource: allocated\n`;
}
text += 'clients:\n';
const master = join(dir, 'master.yaml');
writeFileSync(master, text);

const bare = time(() => ['-e', '0']);
const version = time(() => [XENROOT, '--version']);
const copy = (tag, warm) => (i) => {
  const inv = join(dir, `${tag}${i}`, 'inventory.yaml');
  mkdirSync(join(dir, `${tag}${i}`));
  cpSync(master, inv);
  if (warm) spawnSync(process.execPath, [XENROOT, '--inventory', inv, 'list'], { stdio: 'ignore', env: { ...process.env, XENROOT_STATE_DIR: join(dir, 'state') } });
  return inv;
};
const create = time((i, inv) => [XENROOT, '--inventory', inv, 'create', `new${i}`, '--image', 'terminal', '--mac', 'auto'], copy('warm', true));
const cold = time((i, inv) => [XENROOT, '--inventory', inv, 'create', `new${i}`, '--image', 'terminal', '--mac', 'auto'], copy('cold', false));
const fmt = (ms) => `${ms.toFixed(1)} ms`;
console.log(`runs per case (median): ${runs}`);
console.log(`node -e 0                        ${fmt(bare)}`);
console.log(`xenroot --version                ${fmt(version)}  ratio ${(version / bare).toFixed(2)}x bare node (target < 3x)`);
console.log(`xenroot create (1,000 guests)    ${fmt(create)}  ratio ${(create / bare).toFixed(2)}x bare node (target <= 2x: ${create / bare <= 2 ? 'met' : 'NOT met'})`);
console.log(`xenroot create, cold cache       ${fmt(cold)}  ratio ${(cold / bare).toFixed(2)}x bare node`);
