#!/usr/bin/env node
// `xenroot image publish` of a real ~700 MB Debian image after a one-package change, against
// `cp -a` of the same image, in one run (issue 12). Goal: added disk <= 5% of a full copy, time
// <= 0.2x `cp -a`.
//   npm run build && flock /tmp/xenroot-heavy.lock node bench/publish.mjs
// The image (mmdebstrap minbase + systemd-sysv, udev, linux-image-amd64, ...) is built once into
// the cache ($XENROOT_CACHE or .cache/images/bookworm-real-bench) when missing (about 5 min).
// The one-package change: `dpkg --root WORK -i nano_*.deb` (files, dpkg database, alternatives).
// Also measured, for docs/revisions.md: squashfs (mksquashfs, lz4) of the same tree, if installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { cacheDir, withCacheLock } = await import(new URL('image/debian.js', dist).href);
const { publishImage } = await import(new URL('ops/revisions.js', dist).href);
const { addImage } = await import(new URL('ops/images.js', dist).href);
const { initInventory } = await import(new URL('ops/init.js', dist).href);

const INCLUDE = 'systemd-sysv,udev,linux-image-amd64,kmod,iproute2,procps,login,passwd,ifupdown,isc-dhcp-client';
const cache = cacheDir();
const image = join(cache, 'images', 'bookworm-real-bench');

/** The real image, built when missing (under the cache lock; the caller holds the heavy lock). */
async function realImage() {
  return withCacheLock(cache, 'real-bench-image', async () => {
    if (existsSync(join(image, '.xenroot-image'))) return image;
    const tmp = `${image}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    console.error(`building ${image} with mmdebstrap (about 5 minutes)`);
    execFileSync('mmdebstrap', ['--variant=minbase', '--mode=root', '--format=directory', `--include=${INCLUDE}`, 'bookworm', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    writeFileSync(join(tmp, '.xenroot-image'), 'bookworm minbase for bench/publish.mjs\n');
    rmSync(image, { recursive: true, force: true });
    renameSync(tmp, image);
    return image;
  });
}

/** nano's .deb, downloaded once into the cache. */
function nanoDeb() {
  const dir = join(cache, 'debs');
  mkdirSync(dir, { recursive: true });
  let deb = readdirSync(dir).find((f) => /^nano_.*\.deb$/.test(f));
  if (!deb) {
    execFileSync('apt-get', ['download', 'nano'], { cwd: dir, stdio: 'ignore' });
    deb = readdirSync(dir).find((f) => /^nano_.*\.deb$/.test(f));
  }
  return join(dir, deb);
}

const timed = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};
/** Bytes on disk of the trees together (du counts a hard-linked inode once). */
const du = (...dirs) => Number(execFileSync('du', ['-sB1', '-c', ...dirs], { encoding: 'utf8' }).trim().split('\n').at(-1).split('\t')[0]);

const src = await realImage();
const deb = nanoDeb();
const work = mkdtempSync(join(cache, 'bench-publish-'));
process.env.XENROOT_STATE_DIR = join(work, 'state');
try {
  const wd = join(work, 'terminal');
  execFileSync('cp', ['-a', src, wd]);
  const inv = join(work, 'inventory.yaml');
  await initInventory(inv, { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(work, 'boot') });
  writeFileSync(inv, execFileSync('sed', [`s|^site:|site:\\n  revisions:\\n    dir: ${join(work, 'revs')}|`, inv], { encoding: 'utf8' }));
  await addImage(inv, { name: 'terminal', root: wd });
  const t1 = performance.now();
  const r1 = await publishImage(inv, 'terminal', { sync: false });
  const first = performance.now() - t1;
  // One package changes in the working directory.
  execFileSync('dpkg', ['--root', wd, '-i', deb], { stdio: 'ignore' });
  execFileSync('sync');
  // Baseline in the same run, same page cache state: a full copy of the changed image.
  const cpMs = timed(() => execFileSync('cp', ['-a', wd, join(work, 'cp-copy')]));
  const fullBytes = du(join(work, 'cp-copy'));
  rmSync(join(work, 'cp-copy'), { recursive: true, force: true });
  const t2 = performance.now();
  const r2 = await publishImage(inv, 'terminal', { sync: false });
  const second = performance.now() - t2;
  const added = du(r1.path, r2.path) - du(r1.path);
  // The same two with a cold page cache (an image on a server is rarely all in memory).
  const dropCaches = () => {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
  };
  dropCaches();
  const cpColdMs = timed(() => execFileSync('cp', ['-a', wd, join(work, 'cp-cold')]));
  rmSync(join(work, 'cp-cold'), { recursive: true, force: true });
  execFileSync('touch', [join(wd, 'etc/motd')]);
  dropCaches();
  const t3 = performance.now();
  const r3 = await publishImage(inv, 'terminal', { sync: false });
  const third = performance.now() - t3;
  let squash;
  if (spawnSync('which', ['mksquashfs']).status === 0) {
    const out = join(work, 'r.sqfs');
    const ms = timed(() => execFileSync('mksquashfs', [wd, out, '-comp', 'lz4', '-noappend', '-quiet', '-no-progress'], { stdio: 'ignore' }));
    squash = { ms: Math.round(ms), bytes: du(out) };
  }
  const result = {
    image: { entries: r2.files, bytes: r2.bytes, diskBytes: fullBytes },
    cpA: { ms: Math.round(cpMs), bytes: fullBytes },
    publishFirst: { ms: Math.round(first), addedBytes: r1.addedBytes },
    publishAfterOnePackage: { ms: Math.round(second), addedBytes: added, manifestAddedBytes: r2.addedBytes, copiedFiles: r2.copiedFiles, phases: r2.ms },
    cold: { cpAms: Math.round(cpColdMs), publishMs: Math.round(third), phases: r3.ms, ratio: +(third / cpColdMs).toFixed(3) },
    ratios: { time: +(second / cpMs).toFixed(3), disk: +(added / fullBytes).toFixed(4) },
    goals: { time: 0.2, disk: 0.05 },
    squashfsLz4: squash,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `publish after one package: ${(second / 1000).toFixed(2)} s and ${(added / 1048576).toFixed(1)} MiB added, against cp -a ${(cpMs / 1000).toFixed(2)} s and ${(fullBytes / 1048576).toFixed(0)} MiB: ` +
      `time ${result.ratios.time}x (goal <= 0.2), disk ${(result.ratios.disk * 100).toFixed(2)}% (goal <= 5%); ` +
      `cold cache: publish ${(third / 1000).toFixed(2)} s against cp -a ${(cpColdMs / 1000).toFixed(2)} s (${result.cold.ratio}x)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
