/**
 * The nested-Xen harness itself: its QEMU command line keeps traffic on loopback and never writes
 * the cached dom0 image, and a dom0 that does not come up in time ends with a TimeoutError and
 * leaves no QEMU behind (stopped by PID). Opt-in with the rest of test/xen: XENROOT_TEST_XEN=1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DependencyError, TimeoutError } from '../../src/sys/errors.js';
import { buildDom0, qemuArgs, startNestedXen } from '../support/xen.js';

/** PIDs of processes whose command line mentions `needle`. */
function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'latin1').includes(needle)) pids.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const build = { xenElf: '/c/xen.elf', vmlinuz: '/c/vmlinuz', initrd: '/c/dom0-initrd.gz', rootImage: '/c/dom0.ext4' };

describe.skipIf(!process.env.XENROOT_TEST_XEN)('nested-Xen harness', () => {
  it('forwards only 127.0.0.1:PORT to dom0 libvirtd, boots the cached dom0 disk with snapshot=on, mounts the share at the same path', () => {
    const a = qemuArgs({ build, port: 40123, spool: '/w/spool', share: '/w/share', pidFile: '/w/qemu.pid' }).join(' ');
    expect(a).toContain('-netdev user,id=n0,hostfwd=tcp:127.0.0.1:40123-:16509 ');
    expect(a.match(/hostfwd=/g)).toHaveLength(1);
    expect(a).toContain('-drive file=/c/dom0.ext4,if=virtio,format=raw,snapshot=on');
    expect(a).toContain("-initrd /c/vmlinuz console=hvc0 earlyprintk=xen root=/dev/vda xenroot.share=/w/share,/c/dom0-initrd.gz");
    expect(a).toContain('-cpu Nehalem -m 3072 -smp 2');
    expect(a).toContain('path=/w/share,security_model=none');
  });

  it('refuses a share path with a comma (QEMU would split the multiboot module list there)', () => {
    expect(() => qemuArgs({ build, port: 1, spool: '/w/s', share: '/w/a,b', pidFile: '/w/p' })).toThrow(DependencyError);
  });

  it('a dom0 that does not answer in time ends with TimeoutError and its QEMU is stopped by PID', async () => {
    // The dom0 is built (or found cached) first: on a cold cache its build takes minutes, and this
    // test is about the wait for libvirtd, not about the build.
    await buildDom0();
    const parent = await mkdtemp(join(tmpdir(), 'xenroot-xen-timeout-'));
    try {
      const err = await startNestedXen({ workParent: parent, readyTimeoutMs: 3_000 }).catch((e: unknown) => e);
      expect(err, `${String(err)} ${JSON.stringify(err)}`.slice(0, 2000)).toBeInstanceOf(TimeoutError);
      expect(pidsMentioning(parent)).toEqual([]);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  }, 600_000);
});
