/**
 * Real boots: the tiny image served over NFSv4 by nfs-ganesha on 127.0.0.1, the Debian kernel with
 * the built-in qemu-target initrd, QEMU (TCG) with user networking (the host's loopback is
 * 10.0.2.2 to the guest). Every QEMU and ganesha process is stopped by PID, also on failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';

let fx: TinyFixture;
let nfs: NfsServer | undefined;
let work: string;
let initrd: string;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-boot-'));
  initrd = (await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'qemu', out: join(work, 'initrd-qemu.gz') })).path;
  nfs = await startNfsServer({ exports: [{ path: fx.imageDir }] });
});

afterAll(async () => {
  await nfs?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Boot {
  output: string;
  /** True when QEMU exited by itself (guest powered off). */
  exited: boolean;
}

/** Boots QEMU until `until` matches the console output (or the guest powers off), then stops it. */
async function boot(append: string, until: RegExp, timeoutMs = 120_000): Promise<Boot> {
  let output = '';
  let exited = false;
  const qemu: ResultPromise = execa('qemu-system-x86_64', [
    '-accel', 'tcg', '-m', '512', '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', fx.kernel.vmlinuz, '-initrd', initrd,
    '-append', `console=ttyS0 quiet panic=-1 ${append}`,
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
  ], { reject: false, stdin: 'ignore', all: true, buffer: false });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${until} within ${timeoutMs} ms; console:\n${output.slice(-3000)}`)), timeoutMs);
      qemu.all?.on('data', (d: Buffer) => {
        output += d.toString('utf8');
        if (until.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void qemu.then(() => {
        exited = true;
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    if (!exited && qemu.pid) process.kill(qemu.pid, 'SIGKILL');
    await qemu;
  }
  return { output: output.replace(/\r/g, ''), exited };
}

describe('booting the tiny image over NFSv4 with the built-in initrd', () => {
  it('reaches the marker with / on nfs4 (xenroot.overlay=0: tmpfs on /var and /tmp)', async () => {
    const root = `root=nfs4:10.0.2.2:/export:port=${nfs!.port} ip=dhcp ro xenroot.overlay=0 xenroot.marker=XENROOT-HANDOVER`;
    const b = await boot(root, new RegExp(fx.marker));
    expect(b.output).toContain('xenroot-initrd: modules loaded');
    expect(b.output).toMatch(/xenroot-initrd: address 10\.0\.2\.\d+ on eth0/);
    expect(b.output).toContain('XENROOT-HANDOVER');
    expect(b.output).toMatch(/^xenroot-root: 10\.0\.2\.2:\/export \/ nfs4 ro,/m);
    expect(b.output).toMatch(/^xenroot-root: tmpfs \/var tmpfs/m);
    expect(b.output).toContain(fx.marker);
  });

  it('reaches the marker on an overlay root whose lower layer is the NFSv4 export, taking DHCP on the BOOTIF NIC', async () => {
    const b = await boot(`root=nfs4:10.0.2.2:/export:port=${nfs!.port} ip=dhcp ro BOOTIF=01-52-54-00-12-34-56`, new RegExp(fx.marker));
    expect(b.output).toContain('xenroot-initrd: interface eth0 (52:54:00:12:34:56)');
    expect(b.output).toContain('xenroot-initrd: root: overlay (tmpfs upper) over nfs4');
    expect(b.output).toMatch(/^xenroot-root: overlay \/ overlay /m);
    expect(b.output).toMatch(/^xenroot-root: 10\.0\.2\.2:\/export \/run\/xenroot\/lower nfs4 ro,/m);
  });

  it('prints the failing step and powers off when the export does not exist', async () => {
    const b = await boot(`root=nfs4:10.0.2.2:/nosuchexport:port=${nfs!.port} ip=dhcp ro`, /xenroot-initrd: halting/);
    expect(b.output).toMatch(/xenroot-initrd: FAILED at nfs: mount -t nfs4 10\.0\.2\.2:\/nosuchexport failed/);
    expect(b.output).not.toContain(fx.marker);
  });
});
