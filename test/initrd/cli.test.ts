/** `xenroot initrd build` and `xenroot initrd ls`, run as a user would (the built CLI in dist/). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { xenroot } from '../support/cli.js';

let fx: TinyFixture;
let work: string;
let env: Record<string, string>;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-cli-'));
  env = { XENROOT_INVENTORY: join(work, 'inventory.yaml') };
  expect((await xenroot(['init', '--nfs-server', '127.0.0.1', '--boot-dir', join(work, 'boot'), '--allow', '127.0.0.0/8'], { env })).code).toBe(0);
  expect((await xenroot(['image', 'add', 'tiny', '--root', fx.imageDir], { env })).code).toBe(0);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('xenroot initrd', () => {
  it('build --target xen writes the staged initrd-KVER-xen.img, and ls says xennet and NFS are in it', async () => {
    const b = await xenroot(['--json', 'initrd', 'build', 'tiny', '--target', 'xen'], { env });
    expect(b.code, b.stderr).toBe(0);
    const built = JSON.parse(b.stdout) as { path: string; builder: string; xennet: boolean; nfs: boolean; sha256: string };
    expect(built.path).toBe(join(work, 'boot', 'tiny', `initrd-${fx.kernel.kver}-xen.img`));
    expect(built).toMatchObject({ builder: 'builtin', xennet: true, nfs: true });
    const ls = await xenroot(['initrd', 'ls', built.path], { env });
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^xennet \(xen-netfront\): yes \(module\)$/m);
    expect(ls.stdout).toMatch(/^nfs: yes \(module\), versions v3, v4$/m);
    expect(ls.stdout).toMatch(/xen_netfront/);
  });

  it('build --target qemu --add-module e1000 --out PATH; ls --json lists virtio_net and e1000', async () => {
    const out = join(work, 'q.img');
    const b = await xenroot(['initrd', 'build', 'tiny', '--target', 'qemu', '--add-module', 'e1000', '--out', out], { env });
    expect(b.code, b.stderr).toBe(0);
    const ls = await xenroot(['--json', 'initrd', 'ls', out], { env });
    const l = JSON.parse(ls.stdout) as { modules: string[]; virtioNet: { present: boolean } };
    expect(l.modules).toContain('virtio_net');
    expect(l.virtioNet.present).toBe(true);
    expect(l.modules).toContain('e1000');
  });

  it('refuses a bad target (a value outside the inventory\'s boot targets: exit 3, as publish --target), an unknown image (exit 3), a missing builder tool and a non-initrd (exit 7)', async () => {
    expect((await xenroot(['initrd', 'build', 'tiny', '--target', 'bogus'], { env })).code).toBe(3);
    expect((await xenroot(['initrd', 'build', 'nope', '--target', 'xen'], { env })).code).toBe(3);
    const m = await xenroot(['initrd', 'build', 'tiny', '--target', 'xen', '--builder', 'mkinitrd'], { env });
    expect(m.code).toBe(7);
    expect(m.stderr).toMatch(/has no mkinitrd/);
    expect((await xenroot(['initrd', 'ls', env.XENROOT_INVENTORY!], { env })).code).toBe(7);
  });
});
