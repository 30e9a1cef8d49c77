// Boot files shipped over a libvirt connection and console logs kept on the host (issue 15), on
// a real private libvirtd with the qemu driver and its storage driver (dir pools), started here:
// uploads go through virStorageVolUpload for real, the guest boots under TCG from the volumes.
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootVolumeName, type BootFile } from '../../src/hypervisor/boot-store.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt.js';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { testKernel } from '../support/kernel.js';
import { xenroot } from '../support/cli.js';
import { markerInitrd } from '../support/hosts.js';

const MARKER = 'XENROOT-HOST-MARKER';
const BOOT = '/var/lib/xenroot/boot';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bootFile(local: string, prefix: string): BootFile {
  const data = readFileSync(local);
  const sha256 = createHash('sha256').update(data).digest('hex');
  return { local, name: bootVolumeName(prefix, sha256), size: data.length, sha256 };
}

describe('a host reached only through libvirt: a private libvirtd (qemu driver, dir pools)', () => {
  let daemon: LocalLibvirtd | undefined;
  let dir: string;
  let kver: string;
  let I: string[];
  let files: BootFile[];

  beforeAll(async () => {
    const kernel = await testKernel();
    kver = kernel.kver;
    daemon = await startLocalLibvirtd();
    dir = mkdtempSync(join(tmpdir(), 'xenroot-hosts-e2e-'));
    const boot = join(dir, 'boot', 'm');
    mkdirSync(boot, { recursive: true });
    mkdirSync(join(dir, 'img'));
    copyFileSync(kernel.vmlinuz, join(boot, `vmlinuz-${kver}`));
    await markerInitrd(join(boot, `initrd-${kver}-qemu.img`), MARKER, 'ttyS0');
    await markerInitrd(join(boot, `initrd-${kver}-xen.img`), MARKER, 'hvc0');
    files = [bootFile(join(boot, `vmlinuz-${kver}`), `vmlinuz-${kver}`), bootFile(join(boot, `initrd-${kver}-qemu.img`), `initrd-m-${kver}-qemu`)];
    writeFileSync(
      join(dir, 'inventory.yaml'),
      ['site:', '  nfsServer: 10.0.2.2', `  bootDir: ${join(dir, 'boot')}`, 'images:', `  m: { root: ${join(dir, 'img')}, kver: ${kver} }`, 'guests:', 'clients:', ''].join('\n'),
    );
    I = ['--inventory', join(dir, 'inventory.yaml'), '--json'];
  });

  afterAll(async () => {
    await daemon?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ships kernel and initrd as volumes once: sent and verified by sha256, not sent again, a truncated one sent again', async () => {
    const h = new LibvirtHypervisor(daemon!.uri);
    await h.connect();
    try {
      const store = h.bootStore(BOOT);
      const first = await store.ship(files);
      expect(first.map((f) => [f.name, f.path, f.uploaded])).toEqual(files.map((f) => [f.name, join(BOOT, f.name), true]));
      for (const f of files) expect(await store.verify(f)).toBe(true);
      const again = await store.ship(files);
      expect(again.map((f) => f.uploaded)).toEqual([false, false]);
      expect(await store.stale(files)).toEqual([]);
      // An interrupted upload leaves the volume truncated under its final name (libvirt 9.0): the
      // size check before a start sees it and the file is sent whole again.
      const onDisk = join(daemon!.dir, 'var.upper/lib/xenroot/boot', files[1]!.name);
      truncateSync(onDisk, 1000);
      expect(await store.stale(files)).toEqual([files[1]!.name]);
      const repaired = await store.ship(files);
      expect(repaired.map((f) => f.uploaded)).toEqual([false, true]);
      expect(statSync(onDisk).size).toBe(files[1]!.size);
      expect(await store.verify(files[1]!)).toBe(true);
      // Two processes shipping the same new file at once: one sends it, the other waits for it; both verify.
      const h2 = new LibvirtHypervisor(daemon!.uri);
      const extra = join(dir, 'extra.bin');
      writeFileSync(extra, Buffer.alloc(6 * 1024 * 1024, 7));
      const both = await Promise.all([store.ship([bootFile(extra, 'extra')]), h2.bootStore(BOOT).ship([bootFile(extra, 'extra')])]);
      expect(both.map((r) => r[0]!.uploaded).sort()).toEqual([false, true]);
      await h2.close();
      // The pool is xenroot's: one of that name at another path is refused, not reused.
      await expect(h.bootStore('/srv/elsewhere').ensurePool()).rejects.toThrow(/xenroot-boot .* is at \/var\/lib\/xenroot\/boot, not \/srv\/elsewhere/);
    } finally {
      await h.close();
    }
  });

  it('start places the guest on the only host, boots it from the volumes, and its console log holds the boot without --console', async () => {
    expect((await xenroot([...I, 'host', 'add', 'local', '--connect', daemon!.uri])).code).toBe(0);
    expect((await xenroot([...I, 'create', 'g1', '--image', 'm', '--memory', '256'])).code).toBe(0);
    const started = await xenroot([...I, 'start', 'g1']);
    expect(started.code, started.stderr).toBe(0);
    const r = JSON.parse(started.stdout) as { host: string; placement: string; target: string; shipped: Array<{ name: string; uploaded: boolean }> };
    expect(r).toMatchObject({ host: 'local', placement: 'placed', target: 'qemu' });
    // The previous test shipped the same files: nothing is sent again.
    expect(r.shipped.map((f) => [f.name, f.uploaded])).toEqual(files.map((f) => [f.name, false]));
    expect(readFileSync(join(dir, 'inventory.yaml'), 'utf8')).toMatch(/g1:[\s\S]*host: local/);
    const live = (await execa('virsh', ['-c', daemon!.uri, 'dumpxml', 'g1'])).stdout;
    expect(live).toContain(`<kernel>${join(BOOT, files[0]!.name)}</kernel>`);
    expect(live).toContain(`<initrd>${join(BOOT, files[1]!.name)}</initrd>`);
    expect(live).toMatch(/<log file='\/var\/log\/xenroot\/console\/g1\.log' append='on'\/>/);

    let tail: { lines: string[]; path: string } = { lines: [], path: '' };
    for (let i = 0; i < 120 && !tail.lines.some((l) => l.includes(MARKER)); i++) {
      await sleep(1000);
      const t = await xenroot([...I, 'console', 'g1', '--log-tail', '5000']);
      expect(t.code, t.stderr).toBe(0);
      tail = JSON.parse(t.stdout);
    }
    expect(tail.path).toBe('/var/log/xenroot/console/g1.log');
    expect(tail.lines.join('\n')).toMatch(new RegExp(`${MARKER} .*console=ttyS0`));
    expect(tail.lines.join('\n')).toMatch(/Linux version/);
    const since = JSON.parse((await xenroot([...I, 'console', 'g1', '--since', 'start'])).stdout) as { lines: string[] };
    expect(since.lines.join('\n')).toContain(MARKER);

    // The generated Xen files of a guest on a host name the host's paths too.
    const cfg = readFileSync(join(dir, 'guests/g1.cfg'), 'utf8');
    expect(cfg).toContain(`kernel = '${join(BOOT, files[0]!.name)}'`);
    expect(cfg).toMatch(new RegExp(`ramdisk = '${BOOT}/initrd-m-${kver.replace(/\./g, '\\.')}-xen-[0-9a-f]{12}'`));
    const stop = await xenroot([...I, 'stop', 'g1', '--force']);
    expect(stop.code, stop.stderr).toBe(0);
  });
});
