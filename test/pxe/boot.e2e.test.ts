/**
 * The generated pxelinux tree really boots: QEMU's iPXE ROM loads pxelinux.0 from QEMU's built-in
 * TFTP server (serving a tree made by `xenroot sync --root DIR`), pxelinux picks the client's
 * 01-<mac> file (another MAC falls back to `default`) and starts the real Debian kernel, whose
 * command line on the serial console is the per-client one. The test stops there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { testKernel, stageKernelOnlyBoot } from '../support/kernel.js';
import { bootQemu, stopAllQemu, type QemuVm, TCG_APPEND } from '../support/qemu.js';
import { xenroot } from '../support/cli.js';

const CLIENT_MAC = '52:54:00:aa:01:01';
const OTHER_MAC = '52:54:00:aa:01:02';
let dir: string;
let tftp: string;
const vms: QemuVm[] = [];

beforeAll(async () => {
  const k = await testKernel();
  dir = await mkdtemp(join(tmpdir(), 'xenroot-pxeboot-'));
  await stageKernelOnlyBoot(dir, k);
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({
      site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install' },
      images: { terminal: { root: join(dir, 'img'), kver: k.kver } },
      guests: {},
      clients: {},
    }),
  );
  const env = { XENROOT_INVENTORY: inventory };
  // The client's MAC given in upper case with dashes: the file name must still be what pxelinux asks for.
  const add = await xenroot(['client', 'add', CLIENT_MAC.toUpperCase().replace(/:/g, '-'), '--name', 'pc1', '--append', `console=ttyS0 xenroot.client=pc1 ${TCG_APPEND}`], { env });
  expect(add.code, add.stderr).toBe(0);
  const s = await xenroot(['sync', '--root', join(dir, 'root')], { env });
  expect(s.code, s.stderr).toBe(0);
  tftp = join(dir, 'root/tftpboot/linux-install');
});

afterAll(async () => {
  for (const vm of vms) await vm.stop();
  await stopAllQemu();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('PXE boot of the synced tree', () => {
  it('iPXE loads pxelinux.0, pxelinux picks 01-<mac> for the client and default for another MAC, the kernel starts with that append line', async () => {
    const start = async (mac: string) => {
      const vm = await bootQemu({ mac, pxe: { tftp, bootfile: 'pxelinux.0' }, logFile: join(dir, `${mac.replace(/:/g, '')}.log`) });
      vms.push(vm);
      return vm;
    };
    const [client, other] = await Promise.all([start(CLIENT_MAC), start(OTHER_MAC)]);
    const cmdline = /Kernel command line: ([^\n]*)\n/;
    const [c, o] = await Promise.all([client.waitFor(cmdline, 150_000), other.waitFor(cmdline, 150_000)]);
    const clientLine = c.match[1]!;
    const otherLine = o.match[1]!;
    // pxelinux's own additions: initrd= from APPEND (the image's, then the client's identity piece) and BOOTIF= from IPAPPEND 2.
    expect(clientLine).toMatch(/initrd=images\/terminal\/initrd-\S+-pxe-[0-9a-f]{12}\.img,identity\/node-pc1\.cpio\.gz root=nfs4:10\.0\.2\.2:\S+\/img ro ip=dhcp console=ttyS0,115200 console=tty0 selinux=0 console=ttyS0 xenroot\.client=pc1/);
    expect(clientLine).toContain(`BOOTIF=01-${CLIENT_MAC.replace(/:/g, '-')}`);
    expect(otherLine).not.toContain('xenroot.client=pc1');
    expect(otherLine).toContain('root=nfs4:10.0.2.2:');
    expect(otherLine).toContain(`BOOTIF=01-${OTHER_MAC.replace(/:/g, '-')}`);
    console.log(`PXE boot to kernel command line: client ${c.ms} ms, other ${o.ms} ms`);
    await Promise.all([client.stop(), other.stop()]);
  });
});
