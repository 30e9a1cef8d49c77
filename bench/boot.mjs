#!/usr/bin/env node
// Boot-to-marker time of the tiny test image: built-in initrd against a dracut initrd, by direct
// kernel boot and over PXE (iPXE ROM + QEMU's TFTP + pxelinux), all in one run, medians of N.
// Then a real Debian 12 systemd image (xenroot image bootstrap's recipe, cached): built-in vs
// initramfs-tools (xenroot's BOOT=xenroot build) vs dracut, direct kernel boot to the login prompt.
//   node bench/boot.mjs [N=3]          (root; needs the packages of scripts/setup.sh; run after `npm run build`)
//   XENROOT_BENCH_REAL=0 leaves the real image out, XENROOT_BENCH_TINY=0 the tiny image.
// Targets (issue 6): built-in <= 0.35x dracut direct, <= 0.6x dracut over PXE.
// Target (issue 11): built-in <= 0.5x the distro initrd's boot time for the real image.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prepareKernel, prepareBusyboxStatic, cacheDir } from '../dist/image/debian.js';
import { buildTinyImage, DEFAULT_MARKER } from '../dist/image/tiny.js';
import { buildInitrd } from '../dist/initrd/build.js';
import { startNfsServer } from '../dist/deploy/nfs-server.js';
import { buildCmdline } from '../dist/render/cmdline.js';
import { bootstrapImage, bootstrapRecipeKey } from '../dist/image/bootstrap.js';
import { withCacheLock } from '../dist/image/debian.js';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

const N = Number(process.argv[2] ?? 3);
const XENROOT = fileURLToPath(new URL('../bin/xenroot.js', import.meta.url));

/** Boots QEMU, returns ms until the marker shows on the serial console (and what happened before). */
function boot(args, marker, timeoutMs = 240_000, memory = ['-m', '512']) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const q = spawn('setpriv', ['--pdeathsig', 'KILL', 'qemu-system-x86_64', '-accel', 'tcg', '-nographic', '-no-reboot', ...memory, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const marks = {};
    const timer = setTimeout(() => { q.kill('SIGKILL'); reject(new Error(`no marker within ${timeoutMs} ms:\n${text.slice(-2000)}`)); }, timeoutMs);
    const on = (d) => {
      text += d.toString();
      for (const [k, re] of [['kernel', /Linux version/], ['init', /Run \/init|Freeing unused kernel/], ['rootMounted', /xenroot-initrd: root:|Mounted \/sysroot|mounted.*nfs/i]])
        if (!marks[k] && re.test(text)) marks[k] = Date.now() - t0;
      if (text.includes(marker)) {
        clearTimeout(timer);
        const ms = Date.now() - t0;
        q.kill('SIGKILL');
        resolve({ ms, marks });
      }
    };
    q.stdout.on('data', on);
    q.stderr.on('data', on);
    q.on('exit', () => { if (!text.includes(marker)) { clearTimeout(timer); reject(new Error(`qemu exited before the marker:\n${text.slice(-2000)}`)); } });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (process.env.XENROOT_BENCH_TINY !== '0') await tinyBench();
if (process.env.XENROOT_BENCH_REAL !== '0') await realImageBench();

async function tinyBench() {
const kernel = await prepareKernel();
await prepareBusyboxStatic();
const imageDir = await buildTinyImage({ dir: join(cacheDir(), 'images', `tiny-${kernel.kver}`), kernel });
const work = await mkdtemp(join(tmpdir(), 'xenroot-bench-boot-'));
const nfs = await startNfsServer({ exports: [{ path: imageDir }] });
try {
  const initrds = {};
  for (const builder of ['builtin', 'dracut']) for (const target of ['qemu', 'pxe'])
    initrds[`${builder}-${target}`] = (await buildInitrd({ source: { dir: imageDir }, target, builder, kver: kernel.kver, out: join(work, `initrd-${builder}-${target}.img`) })).path;
  const cmdline = buildCmdline({ server: '10.0.2.2', path: nfs.exports[0].pseudo, nfsVersion: 4, nfsOptions: `port=${nfs.port}`, console: 'qemu' });

  // PXE trees: one inventory per builder, synced under its own --root (the pxe initrd staged from its boot dir).
  const trees = {};
  for (const builder of ['builtin', 'dracut']) {
    const d = join(work, `pxe-${builder}`);
    const env = { ...process.env, XENROOT_INVENTORY: join(d, 'inventory.yaml'), XENROOT_LOG_LEVEL: 'warn' };
    const x = (...a) => execFileSync('node', [XENROOT, ...a], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    x('init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(d, 'boot'), '--tftp-root', '/tftp');
    x('image', 'add', 'tiny', '--root', imageDir, '--export', nfs.exports[0].pseudo, '--nfs-options', `port=${nfs.port}`);
    x('initrd', 'build', 'tiny', '--target', 'pxe', '--builder', builder);
    x('client', 'add', '52:54:00:be:00:01', '--name', 'pc', '--image', 'tiny', '--append', 'console=ttyS0');
    x('sync', '--root', join(d, 'root'));
    trees[builder] = join(d, 'root', 'tftp');
  }

  const cases = {
    'builtin direct': () => ['-kernel', kernel.vmlinuz, '-initrd', initrds['builtin-qemu'], '-append', cmdline, '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile='],
    'dracut direct': () => ['-kernel', kernel.vmlinuz, '-initrd', initrds['dracut-qemu'], '-append', cmdline, '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile='],
    'builtin PXE': () => ['-boot', 'n', '-netdev', `user,id=n0,tftp=${trees.builtin},bootfile=pxelinux.0`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:be:00:01'],
    'dracut PXE': () => ['-boot', 'n', '-netdev', `user,id=n0,tftp=${trees.dracut},bootfile=pxelinux.0`, '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:be:00:01'],
  };
  const results = {};
  for (let i = 0; i < N; i++)
    for (const [name, args] of Object.entries(cases)) {
      const r = await boot(args(), DEFAULT_MARKER);
      (results[name] ??= []).push(r);
      console.log(`  run ${i + 1} ${name.padEnd(15)} ${(r.ms / 1000).toFixed(1)} s  (kernel ${((r.marks.kernel ?? 0) / 1000).toFixed(1)} s, root mounted ${((r.marks.rootMounted ?? 0) / 1000).toFixed(1)} s)`);
    }
  const m = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, median(rs.map((r) => r.ms))]));
  console.log(`\nboot to marker, median of ${N} (nproc=${(await import('node:os')).cpus().length}):`);
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(15)} ${(v / 1000).toFixed(1)} s`);
  console.log(`  built-in / dracut, direct: ${(m['builtin direct'] / m['dracut direct']).toFixed(2)}x (target <= 0.35x)`);
  console.log(`  built-in / dracut, PXE:    ${(m['builtin PXE'] / m['dracut PXE']).toFixed(2)}x (target <= 0.6x)`);
  const kpxe = median(results['builtin PXE'].map((r) => r.marks.kernel ?? 0));
  console.log(`  PXE: time until the kernel starts (iPXE prompt, DHCP, TFTP of pxelinux+kernel+initrd): builtin ${(kpxe / 1000).toFixed(1)} s`);
} finally {
  await nfs.stop();
  await rm(work, { recursive: true, force: true });
}
}

/** The real image: the same cache entry as the test fixture (test/support/real-image.ts). */
async function realImage() {
  const hostname = 'xenroot-real';
  const dir = join(cacheDir(), 'images', `real-bookworm-${bootstrapRecipeKey('bookworm', hostname)}`);
  const stamp = join(dir, '.xenroot-real-image');
  return withCacheLock(cacheDir(), 'real-image', async () => {
    if (existsSync(stamp)) return { dir, kver: (await readFile(stamp, 'utf8')).trim() };
    await rm(dir, { recursive: true, force: true });
    const r = await bootstrapImage({ dir, suite: 'bookworm', hostname });
    await writeFile(stamp, `${r.kver}\n`);
    return { dir, kver: r.kver };
  });
}

async function realImageBench() {
  const img = await realImage();
  const rwork = await mkdtemp(join(tmpdir(), 'xenroot-bench-real-'));
  const rnfs = await startNfsServer({ exports: [{ path: img.dir }] });
  try {
    const builders = ['builtin', 'initramfs-tools', 'dracut'];
    const built = {};
    for (const builder of builders) {
      const r = await buildInitrd({ source: { dir: img.dir }, target: 'qemu', builder, kver: img.kver, out: join(rwork, `initrd-${builder}.img`), progress: false });
      built[builder] = r;
      console.log(`  ${builder.padEnd(16)} initrd ${(r.size / 1e6).toFixed(1)} MB, built in ${(r.ms / 1000).toFixed(1)} s`);
    }
    const vmlinuz = join(img.dir, 'boot', `vmlinuz-${img.kver}`);
    const results = {};
    for (let i = 0; i < N; i++)
      for (const builder of builders) {
        // Each initrd gets the line in its own dialect (docs/cmdline.md).
        const cmdline = buildCmdline({ server: '10.0.2.2', path: rnfs.exports[0].pseudo, nfsVersion: 4, nfsOptions: `port=${rnfs.port}`, console: 'qemu', dialect: builder });
        const args = ['-m', '768', '-kernel', vmlinuz, '-initrd', built[builder].path, '-append', cmdline, '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,romfile='];
        const r = await boot(args.slice(2), 'login: ', 400_000, ['-m', '768']);
        (results[builder] ??= []).push(r.ms);
        console.log(`  run ${i + 1} real ${builder.padEnd(16)} ${(r.ms / 1000).toFixed(1)} s to the login prompt`);
      }
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
    console.log(`\nreal Debian 12 image, boot to the login prompt, median of ${N}:`);
    for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(16)} ${(v / 1000).toFixed(1)} s`);
    console.log(`  built-in / initramfs-tools: ${(m.builtin / m['initramfs-tools']).toFixed(2)}x (target <= 0.5x)`);
    console.log(`  built-in / dracut:          ${(m.builtin / m.dracut).toFixed(2)}x (target <= 0.5x)`);
  } finally {
    await rnfs.stop();
    await rm(rwork, { recursive: true, force: true });
  }
}
