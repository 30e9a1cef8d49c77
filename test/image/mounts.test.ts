// Pure helpers of the mount layer: mountinfo parsing, chroot-safe path resolution, ext4 sizing.
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ext4SizeFor } from '../../src/image/ext4.js';
import { parseMountinfo, resolveInRoot } from '../../src/image/mounts.js';

describe('parseMountinfo', () => {
  it('reads mount point, type, source and options, undoing octal escapes', () => {
    const text =
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n' +
      '90 27 7:0 / /tmp/a\\040b/image ro,relatime - ext4 /dev/loop0 ro\n' +
      '91 90 0:50 / /tmp/a\\040b/image/proc rw,nosuid shared:4 - proc proc rw\n';
    const m = parseMountinfo(text);
    expect(m.map((x) => x.mountPoint)).toEqual(['/', '/tmp/a b/image', '/tmp/a b/image/proc']);
    expect(m[1]).toMatchObject({ fsType: 'ext4', source: '/dev/loop0', options: 'ro,relatime', parentId: 27 });
    expect(m[2]?.fsType).toBe('proc');
  });
});

describe('resolveInRoot', () => {
  it('follows absolute and relative symlinks inside the root and never out of it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'xenroot-resolve-'));
    try {
      await mkdir(join(root, 'run/lock'), { recursive: true });
      await mkdir(join(root, 'var'));
      await symlink('/run/lock', join(root, 'var/lock'));
      await symlink('../../../../../../etc', join(root, 'escape'));
      await symlink('../run', join(root, 'var/run'));
      expect(await resolveInRoot(root, 'var/lock')).toEqual({ path: join(root, 'run/lock'), exists: true });
      expect(await resolveInRoot(root, 'var/run/lock')).toEqual({ path: join(root, 'run/lock'), exists: true });
      // /etc of the host is never reached: '..' stops at the image root.
      expect(await resolveInRoot(root, 'escape')).toEqual({ path: join(root, 'etc'), exists: false });
      expect(await resolveInRoot(root, 'tmp')).toEqual({ path: join(root, 'tmp'), exists: false });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('ext4SizeFor', () => {
  it('gives the contents 25 % headroom plus 16 MiB, rounded to whole MiB', () => {
    const MiB = 1024 * 1024;
    expect(ext4SizeFor({ blocks: 0, entries: 1 })).toBe(17 * MiB);
    const s = ext4SizeFor({ blocks: 25600, entries: 1000 }); // 100 MiB of data
    expect(s % MiB).toBe(0);
    expect(s).toBeGreaterThanOrEqual(141 * MiB);
    expect(s).toBeLessThan(143 * MiB);
  });
});
