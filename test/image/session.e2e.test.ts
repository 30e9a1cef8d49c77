// Mount sessions on a real loop image and a real directory (root, loop devices, mount(8)).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, readlink, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../../src/sys/errors.js';
import { listMounts } from '../../src/image/mounts.js';
import { SESSION_STEPS, sweepStaleSessions, withImageSession, type ImageSource, type SessionOptions, type SessionStep } from '../../src/image/session.js';
import { assertNoLeaks, resourcesUnder, snapshot, type LeakSnapshot } from '../support/leaks.js';
import { makeBusyboxDir, makeBusyboxImage, type BusyboxImage } from './fixture.js';

let img: BusyboxImage;
let before: LeakSnapshot;

beforeAll(async () => {
  before = await snapshot();
  img = await makeBusyboxImage();
});
afterAll(async () => {
  // Nothing this file made is left: mounts and loop devices under its scratch dir, own daemons, netns.
  await assertNoLeaks(before, { paths: [img.base] });
  await img?.cleanup();
});

/** Nothing mounted under the test's scratch dir and no loop device backed by a file in it. */
async function expectNothingLeft(): Promise<void> {
  expect(await resourcesUnder([img.base])).toEqual({ mounts: [], loops: [] });
  expect(await readdir(img.mnt)).toEqual([]);
}

/** A fingerprint of a directory tree: names, modes, sizes, mtimes, contents. */
async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (p: string): Promise<void> => {
    const st = await stat(p).catch(() => undefined);
    h.update(`${p} ${st?.mode} ${st?.size} ${st?.mtimeMs}\n`);
    if (st?.isDirectory()) for (const n of (await readdir(p)).sort()) await walk(join(p, n));
    else if (st?.isFile()) h.update(await readFile(p));
  };
  await walk(dir);
  return h.digest('hex');
}

const sources = (): [string, ImageSource][] => [
  ['loop image file', { file: img.file }],
  ['directory', { dir: img.dir }],
];

describe('image mount session', () => {
  for (const kind of ['loop image file', 'directory']) {
    it(`mounts a ${kind} read-only with tmp, dev, var/lock, proc and sys for chroot, then unwinds`, async () => {
      const source = sources().find(([k]) => k === kind)?.[1] as ImageSource;
      const before = await treeHash(img.dir);
      const seen = await withImageSession(source, { tmpRoot: img.mnt }, async (s) => {
        expect(s.root.startsWith(img.mnt)).toBe(true);
        if ('file' in source) expect(s.loopDevice).toMatch(/^\/dev\/loop\d+$/);
        const mounts = (await listMounts()).filter((m) => m.mountPoint.startsWith(s.root));
        const marker = await s.run('/bin/busybox', ['cat', '/etc/marker']);
        const dev = await s.run('/bin/busybox', ['ls', '/dev']);
        const tmp = await s.run('/bin/sh', ['-c', 'echo hi > /tmp/x && cat /tmp/x && echo lock > /var/lock/l && cat /var/lock/l']);
        const rootWrite = await s.run('/bin/sh', ['-c', 'echo no > /newfile'], { reject: false });
        const proc = await s.run('/bin/busybox', ['cat', '/proc/self/comm']);
        return { mounts, marker: marker.stdout, dev: dev.stdout, tmp: tmp.stdout, rootWrite, proc: proc.stdout.trim() };
      });
      const byPoint = Object.fromEntries(seen.mounts.map((m) => [m.mountPoint.replace(/^.*\/image/, ''), m]));
      expect(byPoint['']?.options.split(',')).toContain('ro');
      expect(byPoint['/tmp']?.fsType).toBe('tmpfs');
      expect(byPoint['/dev']?.fsType).toBe('tmpfs');
      // /var/lock -> ../run/lock is resolved inside the image, never on the host.
      expect(byPoint['/run/lock']?.fsType).toBe('tmpfs');
      expect(byPoint['/proc']?.fsType).toBe('proc');
      expect(byPoint['/sys']?.fsType).toBe('sysfs');
      expect(seen.marker).toBe('xenroot test image');
      expect(seen.dev.split(/\s+/)).toEqual(expect.arrayContaining(['null', 'zero', 'urandom', 'tty', 'fd']));
      expect(seen.tmp).toBe('hi\nlock');
      expect(seen.rootWrite.exitCode).not.toBe(0);
      expect(seen.rootWrite.stderr).toMatch(/read-only/i);
      expect(seen.proc).toBe('busybox');
      await expectNothingLeft();
      expect(await treeHash(img.dir)).toBe(before);
    });
  }

  it('unwinds and rethrows when the function given to the session throws', async () => {
    for (const [, source] of sources()) {
      await expect(
        withImageSession(source, { tmpRoot: img.mnt }, async () => {
          throw new Error('builder broke');
        }),
      ).rejects.toThrow('builder broke');
      await expectNothingLeft();
    }
  });

  it('reports a failing chroot command as an ImageError with its exit code and unwinds', async () => {
    const err = await withImageSession({ file: img.file }, { tmpRoot: img.mnt }, (s) => s.run('/bin/sh', ['-c', 'echo oops >&2; exit 3'])).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ImageError);
    expect(String((err as Error).message)).toMatch(/exit 3.*oops/);
    await expectNothingLeft();
  });

  const variants: [string, () => ImageSource, SessionOptions][] = [
    ['loop image file', () => ({ file: img.file }), {}],
    ['directory', () => ({ dir: img.dir }), {}],
    ['loop image file with overlay', () => ({ file: img.file }), { overlay: true }],
    ['directory with overlay', () => ({ dir: img.dir }), { overlay: true }],
  ];
  for (const [name, source, opts] of variants) {
    it(`leaves no mount, loop device or directory behind after a failure injected before and after each step (${name})`, async () => {
      const steps: SessionStep[] = [];
      await withImageSession(source(), { ...opts, tmpRoot: img.mnt, faultHook: (s, p) => void (p === 'before' && steps.push(s)) }, async () => undefined);
      expect(steps.length).toBeGreaterThanOrEqual('file' in source() ? 9 : 8);
      for (const s of steps) expect(SESSION_STEPS).toContain(s);
      for (const failing of steps) {
        for (const phase of ['before', 'after'] as const) {
          const err = await withImageSession(
            source(),
            {
              ...opts,
              tmpRoot: img.mnt,
              faultHook: (s, p) => {
                if (s === failing && p === phase) throw new Error(`injected failure ${phase} ${s}`);
              },
            },
            async () => 'unreached',
          ).catch((e: unknown) => e);
          expect(err, `${phase} ${failing}`).toBeInstanceOf(ImageError);
          expect((err as Error).message).toContain(`${failing} failed`);
          expect((err as Error).message).toContain(`injected failure ${phase} ${failing}`);
          await expectNothingLeft();
        }
      }
    });
  }

  for (const [kind, make] of [
    ['loop image file', () => ({ file: img.file })],
    ['directory', () => ({ dir: img.dir })],
  ] as [string, () => ImageSource][]) {
    it(`keeps a first session on a ${kind} intact while a second one on the same image opens and unwinds`, async () => {
      await withImageSession(make(), { tmpRoot: img.mnt }, async (a) => {
        const inner = await withImageSession(make(), { tmpRoot: img.mnt }, async (b) => {
          expect(b.root).not.toBe(a.root);
          if ('file' in make()) expect(b.loopDevice).not.toBe(a.loopDevice);
          const [ra, rb] = await Promise.all([
            a.run('/bin/busybox', ['cat', '/etc/marker']),
            b.run('/bin/busybox', ['cat', '/etc/marker']),
          ]);
          return [ra.stdout, rb.stdout];
        });
        expect(inner).toEqual(['xenroot test image', 'xenroot test image']);
        // The first session still has all its mounts and still runs commands.
        const left = (await listMounts()).filter((m) => m.mountPoint.startsWith(a.root)).map((m) => m.mountPoint.slice(a.root.length));
        expect(left.sort()).toEqual(['', '/dev', '/proc', '/run/lock', '/sys', '/tmp']);
        expect((await a.run('/bin/busybox', ['cat', '/proc/self/comm'])).stdout.trim()).toBe('busybox');
      });
      await expectNothingLeft();
    });
  }

  it('runs two sessions on the same loop image file concurrently on separate loop devices', async () => {
    const results = await Promise.all(
      [1, 2].map((n) =>
        withImageSession({ file: img.file }, { tmpRoot: img.mnt }, async (s) => ({
          n,
          dev: s.loopDevice,
          out: (await s.run('/bin/sh', ['-c', `echo ${n} > /tmp/n; busybox sleep 0.3; cat /tmp/n`])).stdout,
        })),
      ),
    );
    expect(results.map((r) => r.out)).toEqual(['1', '2']);
    expect(results[0]?.dev).not.toBe(results[1]?.dev);
    await expectNothingLeft();
  });

  it('lets a builder write to a tmpfs overlay and discards every write at the end', async () => {
    const before = await treeHash(img.dir);
    for (const [, source] of sources()) {
      await withImageSession(source, { tmpRoot: img.mnt, overlay: true }, async (s) => {
        await s.withWritable(() => s.run('/bin/sh', ['-c', 'echo built > /boot-initrd && mkdir -p /lib/modules']));
        expect((await s.run('/bin/busybox', ['cat', '/boot-initrd'])).stdout).toBe('built');
      });
      await expectNothingLeft();
    }
    expect(await treeHash(img.dir)).toBe(before);
  });

  it('kills a daemon a chroot command left running in the image before unmounting', async () => {
    await withImageSession({ file: img.file }, { tmpRoot: img.mnt }, async (s) => {
      await s.run('/bin/sh', ['-c', 'busybox setsid busybox sleep 300 </dev/null >/dev/null 2>&1 &']);
      const ps = await s.run('/bin/busybox', ['ps', '-o', 'args']);
      expect(ps.stdout).toContain('sleep 300');
    });
    await expectNothingLeft();
    for (const p of (await readdir('/proc')).filter((x) => /^\d+$/.test(x))) {
      expect(await readlink(`/proc/${p}/root`).catch(() => '')).not.toContain(img.mnt);
    }
  });

  it('never writes to a directory image: withWritable without overlay is an ImageError', async () => {
    const err = await withImageSession({ dir: img.dir }, { tmpRoot: img.mnt }, (s) => s.withWritable(async () => 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect((err as Error).message).toMatch(/directory image is never written/);
    await expectNothingLeft();
  });

  it('remounts a remountable loop image rw only inside withWritable, and the write persists', async () => {
    const copy = join(img.base, 'copy.img');
    await copyFile(img.file, copy);
    try {
      await withImageSession({ file: copy }, { tmpRoot: img.mnt, remountable: true }, async (s) => {
        await s.withWritable(() => s.run('/bin/sh', ['-c', 'echo persisted > /etc/written']));
        const after = await s.run('/bin/sh', ['-c', 'echo no > /etc/again'], { reject: false });
        expect(after.exitCode).not.toBe(0);
      });
      const again = await withImageSession({ file: copy }, { tmpRoot: img.mnt, chroot: false }, async (s) =>
        readFile(join(s.root, 'etc/written'), 'utf8'),
      );
      expect(again).toBe('persisted\n');
    } finally {
      await expectNothingLeft();
      await rm(copy, { force: true });
    }
  });

  it('refuses a read-only image without a mount point, naming it, and leaves nothing behind', async () => {
    const bare = join(img.base, 'bare');
    await mkdir(bare);
    await makeBusyboxDir(bare, false);
    try {
      const err = await withImageSession({ dir: bare }, { tmpRoot: img.mnt }, async () => 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as Error).message).toMatch(/\/tmp does not exist/);
      await expectNothingLeft();
      // With an overlay the missing mount points are made in the discarded layer.
      const ok = await withImageSession({ dir: bare }, { tmpRoot: img.mnt, overlay: true }, (s) => s.run('/bin/busybox', ['ls', '/dev']));
      expect(ok.stdout).toContain('null');
      expect(await readdir(bare)).not.toContain('proc');
      await expectNothingLeft();
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });

  it('makeExt4Image sizes the file from the directory and the image holds the same tree', async () => {
    const { size } = await stat(img.file);
    const busybox = (await stat(join(img.dir, 'bin/busybox'))).size;
    expect(size).toBeGreaterThan(busybox);
    expect(size).toBeLessThanOrEqual(busybox * 1.25 + 24 * 1024 * 1024);
    console.log(`ext4 image of a ${(busybox / 1048576).toFixed(1)} MiB tree: ${(size / 1048576).toFixed(0)} MiB`);
    const inImage = await withImageSession({ file: img.file }, { tmpRoot: img.mnt, chroot: false }, async (s) => ({
      tree: await readdir(s.root),
      marker: await readFile(join(s.root, 'etc/marker'), 'utf8'),
      lock: await readlink(join(s.root, 'var/lock')),
    }));
    expect(inImage.tree.filter((n) => n !== 'lost+found').sort()).toEqual((await readdir(img.dir)).sort());
    expect(inImage.marker).toBe('xenroot test image\n');
    expect(inImage.lock).toBe('../run/lock');
    await expectNothingLeft();
  });

  it('mounts a loop image whose journal needs recovery (copied while mounted rw) without replaying it', async () => {
    const work = join(img.base, 'dirty-work.img');
    const dirty = join(img.base, 'dirty.img');
    const m = join(img.base, 'dirty-mnt');
    await copyFile(img.file, work);
    await mkdir(m);
    const { stdout: dev } = await execa('losetup', ['-f', '--show', work]);
    try {
      await execa('mount', [dev, m]);
      try {
        await execa('sh', ['-c', `echo new > ${m}/etc/new`]);
        await copyFile(work, dirty);
      } finally {
        await execa('umount', [m]);
      }
    } finally {
      await execa('losetup', ['-d', dev]);
    }
    const features = (await execa('dumpe2fs', ['-h', dirty], { reject: false })).stdout;
    expect(features).toMatch(/needs_recovery/);
    try {
      const marker = await withImageSession({ file: dirty }, { tmpRoot: img.mnt }, (s) => s.run('/bin/busybox', ['cat', '/etc/marker']));
      expect(marker.stdout).toBe('xenroot test image');
      await expectNothingLeft();
    } finally {
      await rm(work, { force: true });
      await rm(dirty, { force: true });
      await rmdir(m).catch(() => undefined);
    }
  });

  it('names a missing image path in an ImageError before touching anything', async () => {
    await expect(withImageSession({ file: join(img.base, 'nope.img') }, { tmpRoot: img.mnt }, async () => 1)).rejects.toThrow(/nope\.img does not exist/);
    await expect(withImageSession({ dir: img.file }, { tmpRoot: img.mnt }, async () => 1)).rejects.toThrow(/is not a directory/);
    await expectNothingLeft();
  });

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`unwinds everything when a real ${sig} reaches a process mid-build (a long chroot command)`, async () => {
      const sessionJs = fileURLToPath(new URL('../../dist/image/session.js', import.meta.url));
      const lifetimeJs = fileURLToPath(new URL('../../dist/sys/lifetime.js', import.meta.url));
      // The CLI's signal policy, as every xenroot command has it.
      const script = `
        import { withImageSession } from ${JSON.stringify(sessionJs)};
        import { installSignalPolicy } from ${JSON.stringify(lifetimeJs)};
        installSignalPolicy((code) => process.exit(code));
        try {
          await withImageSession({ file: ${JSON.stringify(img.file)} }, { tmpRoot: ${JSON.stringify(img.mnt)} }, async (s) => {
            const long = s.run('/bin/sh', ['-c', 'echo $$ > /tmp/pid; busybox sleep 120']);
            await new Promise((r) => setTimeout(r, 300));
            console.log('BUILDING ' + s.loopDevice);
            await long;
          });
          console.log('FINISHED');
        } catch (e) {
          console.log('CAUGHT ' + e.name + ' ' + e.message);
          process.exitCode = e.exitCode ?? 1;
        }`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      try {
        await new Promise<void>((res, rej) => {
          const t = setInterval(() => {
            if (out.includes('BUILDING')) {
              clearInterval(t);
              res();
            }
            if (child.exitCode !== null) {
              clearInterval(t);
              rej(new Error(`child exited early: ${out} ${err}`));
            }
          }, 50);
        });
        const during = await resourcesUnder([img.base]);
        expect(during.mounts.length).toBeGreaterThanOrEqual(6);
        expect(during.loops.length).toBe(1);
        child.kill(sig);
        const code = await exited;
        expect(out).toContain('CAUGHT InterruptedError');
        expect(code).toBe(130);
        await expectNothingLeft();
        // The chrooted shell and its sleep (a grandchild) are gone too: nothing runs with a root in our mount dir.
        const ps = await readdir('/proc');
        const inChroot: string[] = [];
        for (const p of ps.filter((x) => /^\d+$/.test(x))) {
          const root = await readlink(`/proc/${p}/root`).catch(() => '');
          if (root.startsWith(img.mnt)) inChroot.push(p);
        }
        expect(inChroot).toEqual([]);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }

  it('sweepStaleSessions unwinds the session of a process killed with SIGKILL and leaves live sessions alone', async () => {
    const sessionJs = fileURLToPath(new URL('../../dist/image/session.js', import.meta.url));
    const script = `
      import { withImageSession } from ${JSON.stringify(sessionJs)};
      await withImageSession({ file: ${JSON.stringify(img.file)} }, { tmpRoot: ${JSON.stringify(img.mnt)}, overlay: true }, async (s) => {
        console.log('OPEN ' + s.root);
        await new Promise(() => {});
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    try {
      await new Promise<void>((res, rej) => {
        const t = setInterval(() => {
          if (out.includes('OPEN')) {
            clearInterval(t);
            res();
          } else if (child.exitCode !== null) {
            clearInterval(t);
            rej(new Error(`child exited early: ${out}`));
          }
        }, 50);
      });
      await withImageSession({ dir: img.dir }, { tmpRoot: img.mnt }, async (live) => {
        child.kill('SIGKILL');
        await exited;
        const left = await resourcesUnder([img.base]);
        expect(left.loops).toHaveLength(1);
        const stale = left.mounts.filter((m) => !m.startsWith(live.root));
        expect(stale.length).toBeGreaterThanOrEqual(8);
        const swept = await sweepStaleSessions(img.mnt);
        expect(swept.failed).toEqual([]);
        expect(swept.swept).toHaveLength(1);
        const after = await resourcesUnder([img.base]);
        expect(after.loops).toEqual([]);
        // The live session keeps every mount and still works.
        expect(after.mounts.every((m) => m.startsWith(live.root))).toBe(true);
        expect(after.mounts).toHaveLength(6);
        expect((await live.run('/bin/busybox', ['cat', '/etc/marker'])).stdout).toBe('xenroot test image');
      });
      await expectNothingLeft();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
