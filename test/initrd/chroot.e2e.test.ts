/**
 * A distro builder in the image's chroot, through a mount session: initramfs-tools in a Debian
 * bookworm minbase image (mmdebstrap, cached). The image's own /etc/initramfs-tools is not
 * touched (the config goes in a temporary dir on the session's tmpfs), the result carries
 * xen-netfront and NFS, and the session leaves no mount behind.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInitrd } from '../../src/initrd/build.js';
import { initramfsToolsImage } from '../support/kernel.js';

let image: string;
let work: string;

beforeAll(async () => {
  image = await initramfsToolsImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-chroot-'));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir, { recursive: true })).sort()) {
    h.update(f);
    try {
      h.update(await readFile(join(dir, f)));
    } catch {
      // a directory
    }
  }
  return h.digest('hex');
}

describe('initramfs-tools in the image chroot', () => {
  it('--target xen: mkinitramfs -d TMPCONF gives an initrd with xen-netfront and NFS; the image config is untouched; no mount is left', async () => {
    const before = await treeHash(join(image, 'etc/initramfs-tools'));
    const r = await buildInitrd({ source: { dir: image }, builder: 'initramfs-tools', target: 'xen', out: join(work, 'it-xen.img'), progress: false });
    expect(r).toMatchObject({ builder: 'initramfs-tools', xennet: true, nfs: true });
    expect(await treeHash(join(image, 'etc/initramfs-tools'))).toBe(before);
    // A bind mount of the image shows its directory as the mount's root (field 4 of mountinfo).
    const name = image.split('/').pop()!;
    const left = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => (l.split(' ')[3] ?? '').includes(name) || l.includes(` ${image}`));
    expect(left).toEqual([]);
  });
});
