// Ctrl-C (a real SIGINT) at each step of `xenroot test --serve-nfs` on a loop image file, and of a
// distro (dracut) initrd build: the command always ends with exit 130 and leaves no mount, loop
// device, process, temp dir or half-written file. Root only (loop devices, libvirtd, ganesha).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt4Image } from '../../src/image/ext4.js';
import { listInitrd } from '../../src/initrd/ls.js';
import { XENROOT } from '../support/cli.js';
import { smallTinyTree, tinyImage } from '../support/kernel.js';
import { resourcesUnder } from '../support/leaks.js';

let work: string;
let inventory: string;
let boot: string;

beforeAll(async () => {
  const fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-sigint-'));
  const tree = join(work, 'tree');
  const { kver } = await smallTinyTree(tree, ['qemu']);
  const file = join(work, 'tiny.img');
  await makeExt4Image(tree, file, { label: 'xenroot-sigint' });
  await rm(tree, { recursive: true, force: true });
  boot = join(work, 'boot');
  inventory = join(work, 'inventory.yaml');
  const x = (args: string[]) => execa('node', [XENROOT, '-i', inventory, ...args], { env: { XENROOT_STATE_DIR: join(work, 'state') } });
  await x(['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', boot]);
  await x(['image', 'add', 'tiny', '--file', file, '--kver', kver, '--ready-pattern', fx.marker]);
}, 600_000);

afterAll(async () => {
  const left = await resourcesUnder([work]);
  if (!left.mounts.length && !left.loops.length) await rm(work, { recursive: true, force: true });
});

interface Interrupted {
  code: number | null;
  stderr: string;
  /** The private temp dir the command ran with (its TMPDIR). */
  tmp: string;
}

/** Runs `xenroot ARGS`, sends SIGINT the moment its log reports `step`, and waits for it to end. */
async function interruptAt(args: string[], step: string): Promise<Interrupted> {
  const tmp = join(work, `tmp-${step}`);
  await mkdir(tmp, { recursive: true });
  const child = spawn(process.execPath, [XENROOT, '-i', inventory, ...args], {
    env: { ...process.env, TMPDIR: tmp, XENROOT_LOG_JSON: '1', XENROOT_LOG_LEVEL: 'debug', XENROOT_STATE_DIR: join(work, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && stderr.split('\n').some((l) => l.includes(`"step":"${step}"`))) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await exited;
  expect(sent, `the command never reached step ${step}:\n${stderr.slice(-2000)}`).toBe(true);
  return { code, stderr, tmp };
}

/** Nothing the interrupted command started or made is left. */
async function expectNothingLeft(r: Interrupted): Promise<void> {
  const left = await resourcesUnder([work]);
  expect(left.mounts, 'mounts').toEqual([]);
  expect(left.loops, 'loop devices').toEqual([]);
  // Every temp dir it made (session mount dir, NFS server and libvirtd work dirs, dracut's) is gone.
  expect(readdirSync(r.tmp), 'temp dirs').toEqual([]);
  // No process runs with anything of this test in its command line (ganesha, libvirtd, QEMU, dracut).
  const ps = await execa('ps', ['-eo', 'pid=,args='], { reject: false });
  const ours = String(ps.stdout).split('\n').filter((l) => l.includes(work) && !l.includes('vitest'));
  expect(ours, 'processes').toEqual([]);
  // No temp file, and any staged initrd is whole.
  const staged = existsSync(join(boot, 'tiny')) ? readdirSync(join(boot, 'tiny')) : [];
  expect(staged.filter((n) => n.includes('.xenroot-tmp-')), 'temp files').toEqual([]);
  for (const n of staged.filter((n) => n.startsWith('initrd-'))) expect((await listInitrd(join(boot, 'tiny', n))).members.length).toBeGreaterThan(10);
  for (const n of staged.filter((n) => n.startsWith('vmlinuz-'))) expect(readFileSync(join(boot, 'tiny', n)).subarray(0x202, 0x206).toString('latin1')).toBe('HdrS');
}

describe('Ctrl-C during `xenroot test --serve-nfs` on a loop image file', () => {
  // Each step as the command logs it when it begins.
  for (const step of ['mount-image', 'stage-kernel', 'build-initrd', 'serve-nfs', 'connect', 'start-libvirtd', 'boot', 'wait']) {
    it(`at step ${step}: exit 130, nothing left`, { timeout: 300_000 }, async () => {
      await rm(boot, { recursive: true, force: true });
      const r = await interruptAt(['test', 'tiny', '--serve-nfs', '--timeout', '300'], step);
      expect(r.code, r.stderr.slice(-3000)).toBe(130);
      expect(r.stderr).toMatch(/interrupted by SIGINT/);
      await expectNothingLeft(r);
    });
  }
});

describe('Ctrl-C during a distro initrd build (dracut on the host, from a loop image file)', () => {
  for (const step of ['mounting the image', 'dracut on the host']) {
    it(`at "${step}": exit 130, nothing left`, { timeout: 300_000 }, async () => {
      const r = await interruptAt(['initrd', 'build', 'tiny', '--target', 'qemu', '--builder', 'dracut'], step);
      expect(r.code, r.stderr.slice(-3000)).toBe(130);
      await expectNothingLeft(r);
    });
  }
});
