/**
 * The built-in builder on a loop image file (mkfs.ext4 -d): the mount session opens read-only,
 * the initrd equals the one built from the same tree as a directory, and nothing stays behind.
 * Root only (loop devices).
 */
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeExt4Image } from '../../src/image/ext4.js';
import { buildInitrd } from '../../src/initrd/build.js';
import { loadModuleIndex, resolveModules } from '../../src/initrd/modules.js';
import { targetModules } from '../../src/initrd/targets.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { resourcesUnder } from '../support/leaks.js';

let fx: TinyFixture;
let work: string;
let dir: string;
let file: string;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-loop-'));
  // A small image: busybox and just the modules the xen target needs (the full set is 400 MB).
  dir = join(work, 'root');
  const kver = fx.kernel.kver;
  const src = join(fx.imageDir, 'lib/modules', kver);
  const dst = join(dir, 'lib/modules', kver);
  await mkdir(join(dir, 'bin'), { recursive: true });
  await cp(join(fx.imageDir, 'bin/busybox'), join(dir, 'bin/busybox'));
  await symlink('busybox', join(dir, 'bin/sh'));
  for (const d of ['tmp', 'dev', 'proc', 'sys', 'etc', 'var']) await mkdir(join(dir, d));
  const { modules } = resolveModules(await loadModuleIndex(src), targetModules('xen'));
  for (const m of modules) {
    await mkdir(dirname(join(dst, m.path)), { recursive: true });
    await cp(join(src, m.path), join(dst, m.path));
  }
  await cp(join(src, 'modules.builtin'), join(dst, 'modules.builtin'));
  await execa('depmod', ['-b', dir, kver]);
  file = join(work, 'root.img');
  await makeExt4Image(dir, file, { label: 'xenroot-initrd' });
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('built-in initrd from a loop image file', () => {
  it('gives the same bytes as from the directory, and leaves no loop device or mount behind', async () => {
    const fromDir = await buildInitrd({ source: { dir }, target: 'xen', out: join(work, 'dir.img'), progress: false });
    const fromFile = await buildInitrd({ source: { file }, target: 'xen', out: join(work, 'file.img'), progress: false });
    expect(fromFile.xennet).toBe(true);
    expect(fromFile.nfs).toBe(true);
    expect(fromFile.sha256).toBe(fromDir.sha256);
    const left = await resourcesUnder([work]);
    expect(left.loops).toEqual([]);
    expect(left.mounts).toEqual([]);
  });
});
