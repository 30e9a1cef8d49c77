/**
 * Issue 11, must show 1: one real Debian 12 systemd image (made by `xenroot image bootstrap`'s
 * code, cached), three initrd builders (built-in, initramfs-tools, dracut), each booted by
 * `xenroot test --serve-nfs` under QEMU (libvirt's qemu driver, a private libvirtd) to a login
 * prompt over an NFSv4 root from a private nfs-ganesha. Each result names its builder, its initrd
 * file and sha256; the console proves that initrd ran (its own lines, no other initrd's) and that
 * the root came over NFS. At most two boots at a time.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { sha256File } from '../../src/sys/hash.js';
import type { TestImageResult } from '../../src/ops/test-image.js';
import { xenroot } from '../support/cli.js';
import { realImage, type RealImageFixture } from '../support/real-image.js';

const BUILDERS = ['initramfs-tools', 'dracut', 'builtin'] as const;
type Builder = (typeof BUILDERS)[number];

let fx: RealImageFixture;
let libvirtd: LocalLibvirtd;
let dir: string;
let env: Record<string, string>;
const results = new Map<Builder, { r: TestImageResult; code: number; console: string; stderr: string; ms: number }>();

/** Runs jobs with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  }));
}

beforeAll(async () => {
  const t0 = Date.now();
  fx = await realImage();
  console.log(`real image fixture ready after ${Date.now() - t0} ms (built now: ${fx.buildSeconds ? `${fx.buildSeconds} s` : 'no, cached'})`);
  dir = await mkdtemp(join(tmpdir(), 'xenroot-real-'));
  libvirtd = await startLocalLibvirtd();
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_CONNECT: libvirtd.uri };
  const init = await xenroot(['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(dir, 'boot')], { env });
  expect(init.code, init.stderr).toBe(0);
  const add = await xenroot(['image', 'add', 'real', '--root', fx.dir], { env });
  expect(add.code, add.stderr).toBe(0);
  const t1 = Date.now();
  // initramfs-tools and dracut build for ~15-25 s before they boot: those two first, then the built-in.
  await pool(BUILDERS, 2, async (b) => {
    const s = Date.now();
    const log = join(dir, `console-${b}.log`);
    const run = await xenroot(['--json', 'test', 'real', '--serve-nfs', '--initrd-builder', b, '--expect', 'login: *$', '--timeout', '400', '--memory', '768', '--log', log], { env });
    const r = JSON.parse(run.stdout || '{}') as TestImageResult;
    results.set(b, { r, code: run.code, console: await readFile(log, 'utf8').catch(() => ''), stderr: run.stderr, ms: Date.now() - s });
    console.log(`xenroot test --initrd-builder ${b}: exit ${run.code} in ${Date.now() - s} ms; ${r.pass ? `up in ${r.bootMs} ms` : r.reason}; timeline ${JSON.stringify(r.timeline)}`);
  });
  console.log(`three builders booted (two at a time) in ${Date.now() - t1} ms`);
}, 1_500_000);

afterAll(async () => {
  await libvirtd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a real Debian 12 systemd image, three initrd builders, `xenroot test --serve-nfs` under QEMU', () => {
  for (const b of BUILDERS) {
    it(`${b}: PASS at a login prompt over the NFS root; the result names the ${b} initrd and its sha256, and the console proves that initrd ran`, async () => {
      const got = results.get(b)!;
      expect(got.code, `${got.r.reason}\n${got.r.lastLines?.join('\n')}\n${got.stderr.slice(-2000)}`).toBe(0);
      const r = got.r;
      expect(r).toMatchObject({ pass: true, builder: b, image: 'real', kver: fx.kver });
      // The initrd named is the builder's own file, and it is the file on disk.
      expect(r.initrd).toBe(join(dir, 'boot', 'real', b === 'builtin' ? `initrd-${fx.kver}-qemu.img` : `initrd-${fx.kver}-qemu-${b}.img`));
      expect(r.initrdSha256).toBe(await sha256File(r.initrd));
      // The console shows this initrd's lines, and no other initrd's.
      expect(r.initrdsSeen).toEqual([b]);
      const start = { builtin: /xenroot-initrd: starting on/, 'initramfs-tools': /xenroot-initramfs: starting on/, dracut: /dracut: Debian GNU\/Linux/ }[b];
      expect(got.console).toMatch(start);
      // The root came over NFS from the test's ganesha, and systemd brought up a login prompt.
      const mounted = { builtin: /xenroot-initrd: nfs root mounted: 10\.0\.2\.2:\/export/, 'initramfs-tools': /xenroot-initramfs: nfs root mounted: 10\.0\.2\.2:\/export/, dracut: /dracut: Mounted root filesystem 10\.0\.2\.2:\/export/ }[b];
      expect(got.console).toMatch(mounted);
      expect(got.console).toMatch(/Welcome to .*Debian GNU\/Linux 12 \(bookworm\)/);
      expect(r.match).toMatch(/login: *$/);
      expect(got.console).toContain(`${fx.hostname} login:`);
      expect(r.cmdline).toMatch(/^root=nfs4:10\.0\.2\.2:\/export:port=\d+ ro ip=dhcp /);
      expect(r.timeline.map((t) => t.stage)).toEqual(expect.arrayContaining(['kernel', 'initrd', 'lease', 'nfs', 'switch_root', 'init', 'ready']));
    });
  }

  it('the three results name three different initrd files and contents, booted with one kernel', () => {
    const rs = BUILDERS.map((b) => results.get(b)!.r);
    expect(new Set(rs.map((r) => r.initrd)).size).toBe(3);
    expect(new Set(rs.map((r) => r.initrdSha256)).size).toBe(3);
    expect(new Set(rs.map((r) => r.kernelSha256)).size).toBe(1);
  });
});
