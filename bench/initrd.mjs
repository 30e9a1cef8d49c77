#!/usr/bin/env node
// The built-in initrd builder against dracut, same kernel, same image, same target, in one run.
//   npm run build && node bench/initrd.mjs [target=xen] [builtin-runs=5]
// Targets (issue 3): built-in at most 1/8 of dracut's size and at least 10x faster to build.
// dracut runs on the host with --kmoddir (the tiny image has no dracut), default compression,
// the arguments xenroot uses (--no-hostonly, base network-legacy nfs, target NIC drivers).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const { prepareKernel, cacheDir } = await import(new URL('image/debian.js', dist).href);
const { buildTinyImage } = await import(new URL('image/tiny.js', dist).href);
const { buildBuiltinInitrd } = await import(new URL('initrd/builtin.js', dist).href);
const { buildDistroInitrd } = await import(new URL('initrd/distro.js', dist).href);
const { listInitrd } = await import(new URL('initrd/ls.js', dist).href);

const target = process.argv[2] ?? 'xen';
const runs = Number(process.argv[3] ?? 5);
const kernel = await prepareKernel();
const image = await buildTinyImage({ dir: join(cacheDir(), 'images', `tiny-${kernel.kver}`), kernel });
const work = mkdtempSync(join(tmpdir(), 'xenroot-bench-initrd-'));

try {
  const builtinMs = [];
  let builtin;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    builtin = await buildBuiltinInitrd({ imageRoot: image, target, out: join(work, `builtin-${i}.img`) });
    builtinMs.push(performance.now() - t);
  }
  builtinMs.sort((a, b) => a - b);
  const bMs = builtinMs[Math.floor(builtinMs.length / 2)];

  const t = performance.now();
  const dracut = await buildDistroInitrd({ builder: 'dracut', root: image, kver: kernel.kver, target, out: join(work, 'dracut.img') });
  const dMs = performance.now() - t;

  const [lb, ld] = [await listInitrd(builtin.path), await listInitrd(dracut.path)];
  const mb = (n) => (n / 1e6).toFixed(2);
  const sizeRatio = dracut.size / builtin.size;
  const speedRatio = dMs / bMs;
  console.log(`kernel ${kernel.kver}, target ${target}`);
  console.log(`built-in: ${mb(builtin.size)} MB, ${lb.modules.length} modules, median of ${runs} builds ${(bMs / 1000).toFixed(2)} s`);
  console.log(`dracut:   ${mb(dracut.size)} MB, ${ld.modules.length} modules, ${(dMs / 1000).toFixed(2)} s (${ld.segments.map((s) => s.compression).join('+')})`);
  console.log(`size:  dracut / built-in = ${sizeRatio.toFixed(1)}x  (target >= 8x: ${sizeRatio >= 8 ? 'met' : 'MISSED'})`);
  console.log(`speed: dracut / built-in = ${speedRatio.toFixed(1)}x  (target >= 10x: ${speedRatio >= 10 ? 'met' : 'MISSED'})`);
  console.log(`xennet: built-in ${lb.xennet.present ? 'yes' : 'no'}, dracut ${ld.xennet.present ? 'yes' : 'no'}; nfs: built-in ${lb.nfs.present ? 'yes' : 'no'}, dracut ${ld.nfs.present ? 'yes' : 'no'}`);
  if (sizeRatio < 8 || speedRatio < 10) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
