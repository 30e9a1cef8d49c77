/**
 * An image is data, written from the image maintainer-turned-attacker's side: xenroot runs as root,
 * so every file it reads from an image must be a regular file inside the image, and nothing of the
 * image may run on the server. Each image here is the small tiny tree (test/support/kernel.ts)
 * with one hostile change; the secret is a 0600 file outside the image that only root can read.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../../src/sys/errors.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { smallTinyTree } from '../support/kernel.js';
import { xenroot } from '../support/cli.js';

let work: string;
let base: string;
let kver: string;
let secretDir: string;
let secretFile: string;
let secret: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xenroot-image-data-'));
  base = join(work, 'base');
  ({ kver } = await smallTinyTree(base, ['xen']));
  secretDir = join(work, 'root-only');
  await mkdir(secretDir, { mode: 0o700 });
  secret = `ROOT-ONLY-SECRET-${randomBytes(8).toString('hex')}`;
  secretFile = join(secretDir, 'shadow');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let n = 0;
/** A fresh copy of the small tiny tree to spoil. */
async function image(): Promise<string> {
  const dir = join(work, `img-${++n}`);
  await cp(base, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

const netfront = () => `lib/modules/${kver}/kernel/drivers/net/xen-netfront.ko`;

/** Every file under `dir` whose bytes hold the secret (gzip'd initrds are looked into). */
async function filesHoldingSecret(dir: string): Promise<string[]> {
  const hits: string[] = [];
  if (!existsSync(dir)) return hits;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const data = await readFile(p);
    const plain = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
    if (plain.includes(secret)) hits.push(p);
  }
  return hits;
}

describe('an image is data: links out of the image are never followed', () => {
  it('a kernel symlinked to a root-only host file: initrd build refuses, and no boot file holds the file', async () => {
    const img = await image();
    await unlink(join(img, 'boot', `vmlinuz-${kver}`));
    await symlink(secretFile, join(img, 'boot', `vmlinuz-${kver}`));
    const env = { XENROOT_INVENTORY: join(work, 'inv-kernel.yaml'), XENROOT_STATE_DIR: join(work, 'state-kernel') };
    const boot = join(work, 'boot-kernel');
    expect((await xenroot(['init', '--nfs-server', '127.0.0.1', '--boot-dir', boot, '--allow', '127.0.0.0/8'], { env })).code).toBe(0);
    expect((await xenroot(['image', 'add', 'evil', '--root', img, '--kver', kver], { env })).code).toBe(0);
    const b = await xenroot(['initrd', 'build', 'evil', '--target', 'xen'], { env });
    expect(b.code, b.stderr).not.toBe(0);
    expect(existsSync(join(boot, 'evil', `vmlinuz-${kver}`))).toBe(false);
    expect(await filesHoldingSecret(boot)).toEqual([]);
  });

  it('a module symlinked to a root-only host file: the build fails with ImageError and writes nothing', async () => {
    const img = await image();
    await unlink(join(img, netfront()));
    await symlink(secretFile, join(img, netfront()));
    const out = join(work, 'module-link.img');
    await expect(buildBuiltinInitrd({ imageRoot: img, target: 'xen', out })).rejects.toThrow(ImageError);
    expect(existsSync(out)).toBe(false);
  });

  it('a modules.dep entry that climbs out with ../ to a host file: refused, naming the entry', async () => {
    const img = await image();
    const modulesDir = join(img, 'lib/modules', kver);
    const evil = join(secretDir, 'xen-netfront.ko');
    await writeFile(evil, `${secret}\n`, { mode: 0o600 });
    const dep = await readFile(join(modulesDir, 'modules.dep'), 'utf8');
    const climbing = relative(modulesDir, evil);
    expect(climbing.startsWith('../')).toBe(true);
    await writeFile(join(modulesDir, 'modules.dep'), dep.replace(/^kernel\/drivers\/net\/xen-netfront\.ko:/m, `${climbing}:`));
    const out = join(work, 'dep-climb.img');
    const err = await buildBuiltinInitrd({ imageRoot: img, target: 'xen', out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toContain(climbing);
    expect(existsSync(out)).toBe(false);
  });

  it('lib/modules as an absolute symlink to the host\'s module tree: the image has no modules of its own, nothing of the host is read', async () => {
    const img = await image();
    // The host's /lib/modules holds this machine's modules, not the test kernel's: point at a copy outside the image instead.
    const hostTree = join(secretDir, 'modules');
    await cp(join(img, 'lib/modules'), hostTree, { recursive: true });
    await rm(join(img, 'lib/modules'), { recursive: true });
    await symlink(hostTree, join(img, 'lib/modules'));
    const out = join(work, 'modules-link.img');
    await expect(buildBuiltinInitrd({ imageRoot: img, target: 'xen', out })).rejects.toThrow(/no kernel modules/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('an image is data: only regular files are read', () => {
  it('a module that is a character device: refused as one, nothing written', async () => {
    const img = await image();
    await unlink(join(img, netfront()));
    await execa('mknod', [join(img, netfront()), 'c', '1', '3']);
    const out = join(work, 'device.img');
    await expect(buildBuiltinInitrd({ imageRoot: img, target: 'xen', out })).rejects.toThrow(/character device/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('an image is data: nothing of it runs on the server', () => {
  it('a static bin/busybox that writes a proof file when run: the build takes it into the initrd but never runs it', async () => {
    const img = await image();
    const proof = join(work, 'busybox-ran');
    const src = join(work, 'fake-busybox.c');
    // Looks like a busybox to a caller (lists sh and switch_root) and leaves proof that it ran.
    await writeFile(src, `#include <fcntl.h>\n#include <unistd.h>\nint main(void) { int fd = open(${JSON.stringify(proof)}, O_CREAT | O_WRONLY, 0644); if (fd >= 0) close(fd); write(1, "sh\\nswitch_root\\n", 15); return 0; }\n`);
    await rm(join(img, 'bin/busybox'));
    await execa('gcc', ['-static', '-O1', '-o', join(img, 'bin/busybox'), src]);
    await chmod(join(img, 'bin/busybox'), 0o755);
    const r = await buildBuiltinInitrd({ imageRoot: img, target: 'xen', out: join(work, 'busybox.img') });
    expect(r.busybox.from).toBe('image');
    expect(existsSync(proof)).toBe(false);
  });
});
