import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InitrdError } from '../../src/sys/errors.js';
import { writeCpio } from '../../src/initrd/cpio.js';
import { listInitrd, listInitrdBuffer } from '../../src/initrd/ls.js';
import { formatListing } from '../../src/cli/initrd.js';

const K = '6.1.0-test-amd64';
const early = writeCpio([{ type: 'file', path: 'kernel/x86/microcode/GenuineIntel.bin', data: Buffer.from('ucode') }, { type: 'file', path: 'early_cpio', data: Buffer.from('1\n') }]);
const main = writeCpio([
  { type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
  { type: 'file', path: `usr/lib/modules/${K}/kernel/drivers/net/xen-netfront.ko.xz`, data: Buffer.from('x') },
  { type: 'file', path: `usr/lib/modules/${K}/kernel/fs/nfs/nfsv4.ko`, data: Buffer.from('x') },
  { type: 'file', path: `usr/lib/modules/${K}/modules.builtin`, data: Buffer.from('kernel/fs/nfs/nfs.ko\nkernel/fs/nfs/nfsv3.ko\n') },
  { type: 'symlink', path: 'lib', target: 'usr/lib' },
]);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xenroot-ls-test-'));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function compress(tool: 'xz' | 'zstd', data: Buffer): Promise<Buffer> {
  const args = tool === 'xz' ? ['-c', '--check=crc32'] : ['-c', '-q'];
  return Buffer.from((await execa(tool, args, { input: data, encoding: 'buffer', stripFinalNewline: false })).stdout);
}

describe('initrd ls', () => {
  for (const kind of ['gzip', 'xz', 'zstd'] as const) {
    it(`reads dracut's layout: uncompressed early cpio followed by a ${kind} one`, async () => {
      const packed = kind === 'gzip' ? gzipSync(main) : await compress(kind, main);
      const file = join(work, `dracut-${kind}.img`);
      await writeFile(file, Buffer.concat([early, packed]));
      const l = await listInitrd(file);
      expect(l.segments.map((s) => s.compression)).toEqual(['none', kind]);
      expect(l.members.map((m) => m.path)).toContain('early_cpio');
      expect(l.kvers).toEqual([K]);
      expect(l.xennet).toEqual({ present: true, how: 'module' });
      // nfs itself is built in (modules.builtin in the archive), nfsv4 a module.
      expect(l.nfs).toEqual({ present: true, how: 'builtin', versions: ['v3', 'v4'] });
      expect(formatListing(l)).toMatch(/xennet \(xen-netfront\): yes \(module\)/);
    });
  }

  it('reports a missing xennet driver and NFS support as absent', async () => {
    const l = await listInitrdBuffer(writeCpio([{ type: 'file', path: 'init', data: Buffer.from('') }]));
    expect(l.xennet.present).toBe(false);
    expect(l.nfs.present).toBe(false);
    expect(formatListing(l)).toMatch(/xennet \(xen-netfront\): NO/);
  });

  it('refuses a file that is no initrd, and a missing file, with InitrdError', async () => {
    await expect(listInitrdBuffer(Buffer.from('hello world, not an initrd'))).rejects.toThrow(/not an initrd/);
    await expect(listInitrd(join(work, 'nope'))).rejects.toThrow(InitrdError);
  });
});
