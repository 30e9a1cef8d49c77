/**
 * The whole chain on real components, driven through the CLI as an admin would:
 *  1. a guest of the tiny test image boots under libvirt's qemu driver (QEMU TCG, direct kernel
 *     boot, built-in initrd), its root mounted over NFSv4 from nfs-ganesha on loopback;
 *     `xenroot console --expect` sees the image's marker and the root mount is NFS;
 *  2. the same with the dracut-built initrd;
 *  3. a "physical" PXE client (QEMU + iPXE ROM) boots from the tree `xenroot sync` generated,
 *     through its own 01-<mac> file, and mounts the same export, at the same time as guest 1;
 *     a client with another MAC gets the default entry;
 *  4. the guest's MAC is pinned after its first boot and the second boot uses it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { loadInventory } from '../../src/ops/steps/store.js';
import { xenroot } from '../support/cli.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { bootQemu, type QemuVm, TCG_APPEND } from '../support/qemu.js';

const PXE_MAC = '52:54:00:e2:e0:01';
const OTHER_MAC = '52:54:00:e2:e0:02';
let tiny: TinyFixture;
let nfs: NfsServer;
let libvirtd: LocalLibvirtd;
let dir: string;
let env: Record<string, string>;
const vms: QemuVm[] = [];

/** The APPEND line of a generated pxelinux.cfg file. */
async function appendOf(name: string): Promise<string> {
  const text = await readFile(join(dir, 'root/tftpboot/linux-install/pxelinux.cfg', name), 'utf8');
  return /^\s*APPEND (.*)$/m.exec(text)![1]!;
}

async function x(args: string[]) {
  const r = await xenroot(args, { env });
  expect(r.code, `xenroot ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  tiny = await tinyImage();
  dir = await mkdtemp(join(tmpdir(), 'xenroot-e2e-'));
  [nfs, libvirtd] = await Promise.all([startNfsServer({ exports: [{ path: tiny.imageDir }] }), startLocalLibvirtd()]);
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_CONNECT: libvirtd.uri };
  const pseudo = nfs.exports[0]!.pseudo;
  await x(['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(dir, 'boot'), '--tftp-root', '/tftpboot/linux-install']);
  const common = ['--root', tiny.imageDir, '--export', pseudo, '--nfs-options', `port=${nfs.port}`, '--ready-pattern', tiny.marker];
  await x(['image', 'add', 'terminal', ...common]);
  await x(['image', 'add', 'terminal-dracut', ...common, '--initrd-builder', 'dracut']);
  await Promise.all([
    x(['initrd', 'build', 'terminal', '--target', 'qemu']),
    x(['initrd', 'build', 'terminal', '--target', 'pxe']),
    x(['initrd', 'build', 'terminal-dracut', '--target', 'qemu']),
  ]);
  await x(['create', 'Terminal', '--image', 'terminal', '--memory', '256', '--append', TCG_APPEND]);
  await x(['create', 'Dracut', '--image', 'terminal-dracut', '--memory', '512', '--append', TCG_APPEND]);
  await x(['client', 'add', PXE_MAC, '--name', 'pc1', '--image', 'terminal', '--append', `console=ttyS0 ${TCG_APPEND}`]);
  await x(['sync', '--root', join(dir, 'root')]);
}, 900_000);

afterAll(async () => {
  for (const vm of vms) await vm.stop().catch(() => undefined);
  await libvirtd?.stop();
  await nfs?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('end to end: one export, guests and a PXE client', () => {
  it('guest Terminal (built-in initrd) and a PXE client boot at the same time from the same NFS export', async () => {
    const pxe = async (mac: string) => {
      const vm = await bootQemu({ mac, memory: 384, pxe: { tftp: join(dir, 'root/tftpboot/linux-install'), bootfile: 'pxelinux.0' } });
      vms.push(vm);
      return vm;
    };
    const guest = (async () => {
      const start = await x(['--json', 'start', 'Terminal']);
      const log = join(dir, 'Terminal.console.log');
      const con = await x(['--json', 'console', 'Terminal', '--expect', tiny.marker, '--timeout', '180', '--log', log]);
      return { start: JSON.parse(start.stdout), con: JSON.parse(con.stdout), log: await readFile(log, 'utf8') };
    })();
    const client = (async () => {
      const vm = await pxe(PXE_MAC);
      await vm.waitFor(new RegExp(tiny.marker), 240_000);
      return vm.console();
    })();
    const [g, pxeConsole] = await Promise.all([guest, client]);
    // The guest's root is the export, over NFSv4.
    expect(g.log).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\S* \S+ nfs4 /);
    // The client booted through its own pxelinux file (its APPEND line, plus IPAPPEND 2's BOOTIF).
    const own = await appendOf('01-52-54-00-e2-e0-01');
    expect(own).toContain('console=ttyS0');
    expect(pxeConsole).toContain(own);
    expect(pxeConsole).toMatch(/Command line: .*BOOTIF=01-52-54-00-e2-e0-01/);
    expect(pxeConsole).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\S* \S+ nfs4 /);
    expect(g.start.pin).toBe('pinned');
  });

  it('a PXE client with another MAC gets the default entry', async () => {
    const vm = await bootQemu({ mac: OTHER_MAC, memory: 384, pxe: { tftp: join(dir, 'root/tftpboot/linux-install'), bootfile: 'pxelinux.0' } });
    vms.push(vm);
    await vm.waitFor(/Command line: .*\n/, 120_000); // the whole line, not just its start
    const text = vm.console();
    const fallback = await appendOf('default');
    expect(fallback).not.toBe(await appendOf('01-52-54-00-e2-e0-01'));
    expect(text).toContain(fallback);
    expect(text).toMatch(/Command line: .*BOOTIF=01-52-54-00-e2-e0-02/);
    await vm.stop();
  });

  it('the MAC of Terminal was pinned on its first boot and the second boot uses it', async () => {
    const inv = await loadInventory(env.XENROOT_INVENTORY!);
    const pinned = inv.data.guests.Terminal!.mac!;
    expect(pinned).toMatch(/^52:54:00:/);
    expect(inv.data.guests.Terminal!.macSource).toBe('first-boot');
    expect(await readFile(join(dir, 'guests/Terminal.cfg'), 'utf8')).toContain(`mac=${pinned},bridge=xenbr0`);
    expect(await readFile(join(dir, 'guests/Terminal.xml'), 'utf8')).toContain(`<mac address="${pinned}"/>`);
    await x(['stop', 'Terminal', '--force']);
    const again = JSON.parse((await x(['--json', 'start', 'Terminal'])).stdout);
    expect(again.pin).toBe('already-pinned');
    expect(again.mac).toBe(pinned);
    const status = JSON.parse((await x(['--json', 'status', 'Terminal'])).stdout);
    expect(JSON.stringify(status)).toContain(pinned);
    await x(['stop', 'Terminal', '--force']);
  });

  it('guest Dracut boots the same export with the dracut-built initrd', async () => {
    await x(['start', 'Dracut']);
    const log = join(dir, 'Dracut.console.log');
    await x(['console', 'Dracut', '--expect', tiny.marker, '--timeout', '240', '--log', log]);
    const text = await readFile(log, 'utf8');
    expect(text).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\S* \S+ nfs4 /);
    // Its ramdisk carries its identity piece: dracut's pre-pivot hook (in the piece) put it in
    // /run/xenroot/node, which dracut carries into the root, and set the host name.
    expect(text).toMatch(/xenroot-tiny: run-node hostname Dracut/);
    expect(text).toMatch(/xenroot-node: host name Dracut/);
    expect(text).toMatch(/xenroot-tiny: hostname Dracut/);
    await x(['stop', 'Dracut', '--force']);
  });
});
