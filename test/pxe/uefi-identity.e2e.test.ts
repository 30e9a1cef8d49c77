/**
 * Physical clients as they are today, on real parts: one `xenroot sync --root` tree served by
 * QEMU's built-in TFTP, the tiny image over NFSv4 from nfs-ganesha on loopback, the built-in
 * initrd, the real Debian kernel.
 *  1. A UEFI client (OVMF, virtio-net with OVMF's own PXE: no option ROM) loads syslinux.efi and a
 *     BIOS client (SeaBIOS + iPXE ROM) pxelinux.0; each boots its own per-MAC entry to the same
 *     NFS root, with its own host name, per-node file and SSH host key.
 *  2. The same two clients boot again as the SECOND NIC of two-NIC machines (the first NIC on
 *     another, restricted network): through iPXE (boot.ipxe chains by ${netX/mac}) and through
 *     pxelinux (IPAPPEND 2); the initrd takes the network on the second NIC and reaches the root
 *     through it; the host key fingerprint is the one of the first boot (kept across a sync).
 *  3. A guest's one ramdisk (image initrd + its identity piece, as `xenroot create` made it)
 *     boots it with its own host name (direct kernel boot of what `render --format qemu` names).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostKeyHolder } from '../../src/deploy/host-keys.js';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { xenroot } from '../support/cli.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { bootQemu, stopAllQemu, type QemuVm, TCG_APPEND } from '../support/qemu.js';

const OVMF = '/usr/share/ovmf/OVMF.fd';
const PC1 = '52:54:00:13:e0:01';
const PC2 = '52:54:00:13:e0:02';
const FIRST_NIC = '52:54:00:13:e0:a1';
/** The MAC of a client of this test, by name. */
const macOf = (node: string): string => ({ pc1: PC1, pc2: PC2 })[node] as string;
let tiny: TinyFixture;
let nfs: NfsServer;
let dir: string;
let tftp: string;
let env: Record<string, string>;
const vms: QemuVm[] = [];

async function x(args: string[]) {
  const r = await xenroot(args, { env, cwd: dir });
  expect(r.code, `xenroot ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/** What the tiny image printed about itself once it was up. */
function seen(text: string) {
  return {
    hostname: /xenroot-tiny: hostname (\S+)/.exec(text)?.[1],
    motd: /xenroot-tiny: motd (.*)/.exec(text)?.[1],
    hostKey: /xenroot-tiny: host-key \/etc\/ssh\/ssh_host_ed25519_key\.pub ([0-9a-f]{64})/.exec(text)?.[1],
    root: /xenroot-root: (10\.0\.2\.2:\/export\S*) \S+ nfs4 /.exec(text)?.[1],
    cmdline: /Command line: (.*)/.exec(text)?.[1] ?? '',
    iface: /xenroot-initrd: interface (\S+) \(([0-9a-f:]+)\)/.exec(text),
  };
}

/** The SHA-256 (hex) of the key blob of a node's ed25519 public key in xenroot's state, and ssh-keygen's fingerprint of it. */
async function stateKey(node: string): Promise<{ hex: string; fingerprint: string }> {
  const base = join(dir, 'root', dir, 'state/host-keys');
  const [inv] = (await execa('ls', [base])).stdout.split('\n');
  // A client's keys are kept by its MAC (deploy/host-keys.ts hostKeyHolder).
  const keys = JSON.parse(await readFile(join(base, inv!, hostKeyHolder('client', node, macOf(node)) + '.json'), 'utf8')) as { keys: { type: string; public: string }[] };
  const pub = keys.keys.find((k) => k.type === 'ed25519')!.public;
  const f = join(dir, `${node}.pub`);
  await writeFile(f, pub);
  const fp = (await execa('ssh-keygen', ['-l', '-f', f])).stdout.split(' ')[1]!;
  return { hex: createHash('sha256').update(Buffer.from(pub.split(' ')[1]!, 'base64')).digest('hex'), fingerprint: fp };
}

beforeAll(async () => {
  tiny = await tinyImage();
  dir = await mkdtemp(join(tmpdir(), 'xenroot-uefi-'));
  nfs = await startNfsServer({ exports: [{ path: tiny.imageDir }] });
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_STATE_DIR: join(dir, 'state') };
  await x(['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(dir, 'boot'), '--tftp-root', '/tftpboot/linux-install']);
  await x(['image', 'add', 'terminal', '--root', tiny.imageDir, '--export', nfs.exports[0]!.pseudo, '--nfs-options', `port=${nfs.port}`, '--ready-pattern', tiny.marker]);
  await Promise.all([x(['initrd', 'build', 'terminal', '--target', 'pxe']), x(['initrd', 'build', 'terminal', '--target', 'qemu'])]);
  await writeFile(join(dir, 'motd-pc1'), 'this is pc1\n');
  await writeFile(join(dir, 'motd-pc2'), 'this is pc2\n');
  await writeFile(join(dir, 'motd-guest'), 'this is the guest\n');
  // console=ttyS0 last: the tiny image's output on the serial console.
  await x(['client', 'add', PC1, '--name', 'pc1', '--file', '/etc/motd=./motd-pc1', '--append', `console=ttyS0 ${TCG_APPEND}`]);
  await x(['client', 'add', PC2, '--name', 'pc2', '--file', '/etc/motd=./motd-pc2', '--append', `console=ttyS0 ${TCG_APPEND}`]);
  await x(['create', 'Guest1', '--image', 'terminal', '--memory', '256', '--append', TCG_APPEND, '--file', '/etc/motd=./motd-guest']);
  await x(['sync', '--root', join(dir, 'root')]);
  tftp = join(dir, 'root/tftpboot/linux-install');
}, 600_000);

afterAll(async () => {
  for (const vm of vms) await vm.stop().catch(() => undefined);
  await stopAllQemu();
  await nfs?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function boot(name: string, o: Parameters<typeof bootQemu>[0]): Promise<QemuVm> {
  const vm = await bootQemu({ memory: 384, logFile: join(dir, `${name}.log`), ...o });
  vms.push(vm);
  return vm;
}

const marker = () => new RegExp(tiny.marker);
const first: Record<string, ReturnType<typeof seen>> = {};

describe('UEFI and BIOS clients from one synced tree; the NIC that booted; per-node identity', () => {
  it('a UEFI client (OVMF, syslinux.efi) and a BIOS client (pxelinux.0) boot their own per-MAC entries to the same NFS root, each with its own host name, file and host key', async () => {
    const t0 = Date.now();
    const [uefi, bios] = await Promise.all([
      boot('uefi-pc1', { mac: PC1, pxe: { tftp, bootfile: 'syslinux.efi' }, nicExtra: ['romfile='], extraArgs: ['-bios', OVMF], memory: 512 }),
      boot('bios-pc2', { mac: PC2, pxe: { tftp, bootfile: 'pxelinux.0' } }),
    ]);
    const [u, b] = await Promise.all([uefi.waitFor(marker(), 240_000), bios.waitFor(marker(), 240_000)]);
    console.log(`UEFI pc1 to the image's marker ${u.ms} ms, BIOS pc2 ${b.ms} ms (both ${Date.now() - t0} ms)`);
    await Promise.all([uefi.stop(), bios.stop()]);
    const pc1 = (first.pc1 = seen(uefi.console()));
    const pc2 = (first.pc2 = seen(bios.console()));
    // Under OVMF only syslinux.efi can have read pxelinux.cfg/01-<mac>: its APPEND is on the kernel's line.
    const own1 = /APPEND (.*)/.exec(await readFile(join(tftp, 'pxelinux.cfg/01-52-54-00-13-e0-01'), 'utf8'))![1]!;
    const own2 = /APPEND (.*)/.exec(await readFile(join(tftp, 'pxelinux.cfg/01-52-54-00-13-e0-02'), 'utf8'))![1]!;
    expect(pc1.cmdline).toContain(own1);
    expect(pc2.cmdline).toContain(own2);
    expect(own1).toContain('identity/node-pc1.cpio.gz');
    expect(pc1.cmdline).toContain('BOOTIF=01-52-54-00-13-e0-01');
    expect(pc2.cmdline).toContain('BOOTIF=01-52-54-00-13-e0-02');
    expect(pc1.root).toBeDefined();
    expect(pc1.root).toBe(pc2.root);
    expect([pc1.hostname, pc2.hostname]).toEqual(['pc1', 'pc2']);
    expect([pc1.motd, pc2.motd]).toEqual(['this is pc1', 'this is pc2']);
    const k1 = await stateKey('pc1');
    const k2 = await stateKey('pc2');
    expect(pc1.hostKey).toBe(k1.hex);
    expect(pc2.hostKey).toBe(k2.hex);
    expect(k1.hex).not.toBe(k2.hex);
    // The hex the node printed is ssh-keygen's SHA256 fingerprint of the key xenroot keeps.
    expect(Buffer.from(k1.hex, 'hex').toString('base64').replace(/=+$/, '')).toBe(k1.fingerprint.replace(/^SHA256:/, ''));
  });

  it('booting from the SECOND NIC of a two-NIC machine (iPXE via ${netX/mac}, pxelinux via IPAPPEND 2): the initrd uses the second NIC, reaches the root through it, and the host key is the one of the first boot', async () => {
    expect(first.pc1?.hostKey && first.pc2?.hostKey, 'the first boots ran').toBeTruthy();
    // A sync after an unrelated change (a full plan): the pieces are made again from the same keys.
    await x(['client', 'add', '52:54:00:13:e0:03', '--name', 'pc3']);
    await x(['sync', '--root', join(dir, 'root')]);
    // NIC 1 (PCI slot 4, eth0) is on another user network that reaches nothing (restrict=on); NIC 2
    // (slot 5, eth1) is the client's and PXE-boots first (bootindex).
    const twoNics = (name: string, mac: string, bootfile: string) =>
      boot(name, {
        mac,
        pxe: { tftp, bootfile },
        nicExtra: ['addr=0x5', 'bootindex=1'],
        extraArgs: ['-netdev', 'user,id=n1,net=10.0.3.0/24,restrict=on', '-device', `virtio-net-pci,netdev=n1,mac=${FIRST_NIC},addr=0x4,bootindex=2`],
      });
    // The guest boots its one ramdisk, as xl/libvirt would: what `render --format qemu` names.
    const xml = (await x(['render', 'Guest1', '--format', 'qemu'])).stdout;
    const kernel = /<kernel>([^<]+)<\/kernel>/.exec(xml)![1]!;
    const ramdisk = /<initrd>([^<]+)<\/initrd>/.exec(xml)![1]!;
    const cmdline = /<cmdline>([^<]+)<\/cmdline>/.exec(xml)![1]!;
    expect(ramdisk).toContain('/nodes/Guest1/');
    const t0 = Date.now();
    const [ipxe, pxelinux, guest] = await Promise.all([
      twoNics('ipxe-pc1', PC1, 'ipxe/boot.ipxe'),
      twoNics('pxelinux-pc2', PC2, 'pxelinux.0'),
      boot('guest', { mac: '52:54:00:13:e0:10', kernel, initrd: ramdisk, append: cmdline, memory: 256 }),
    ]);
    const [i, p, g] = await Promise.all([ipxe.waitFor(marker(), 240_000), pxelinux.waitFor(marker(), 240_000), guest.waitFor(marker(), 240_000)]);
    console.log(`two-NIC iPXE pc1 ${i.ms} ms, two-NIC pxelinux pc2 ${p.ms} ms, guest ${g.ms} ms (all ${Date.now() - t0} ms)`);
    await Promise.all([ipxe.stop(), pxelinux.stop(), guest.stop()]);
    for (const [vm, name, mac] of [[ipxe, 'pc1', PC1], [pxelinux, 'pc2', PC2]] as const) {
      const s = seen(vm.console());
      // The initrd took the second NIC (eth1, the client's MAC), and the root came through it.
      expect(s.iface?.[1], name).toBe('eth1');
      expect(s.iface?.[2], name).toBe(mac);
      expect(s.cmdline).toContain(`BOOTIF=01-${mac.replace(/:/g, '-')}`);
      expect(s.cmdline).toContain(`node-${name}.cpio.gz`);
      expect(vm.console()).toMatch(new RegExp(`xenroot-tiny: nic eth1 ${mac} 10\\.0\\.2\\.\\d+/24`));
      expect(vm.console()).toMatch(new RegExp(`xenroot-tiny: nic eth0 ${FIRST_NIC} \\n`));
      expect(s.root).toBe(first.pc1!.root);
      expect(s.hostname).toBe(name);
      // Same client, next boot: the same SSH host key.
      expect(s.hostKey).toBe(first[name]!.hostKey);
    }
    // iPXE chained pc1's own script by the booting NIC (netX): only that script loads node-pc1's
    // piece and writes pc1's MAC literally (iPXE itself prints on the screen, not the serial line).
    expect(seen(ipxe.console()).cmdline).toMatch(/initrd=node-pc1\.cpio\.gz .* BOOTIF=01-52-54-00-13-e0-01$/);
    const gs = seen(guest.console());
    expect(gs.hostname).toBe('Guest1');
    expect(gs.motd).toBe('this is the guest');
    expect(gs.root).toBeDefined();
  });
});
