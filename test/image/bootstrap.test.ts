/**
 * What `xenroot image bootstrap` writes into a real image for an NFS root (issue 11): the Xen
 * console getty without the device wait (checked against this host's systemd 252 template and
 * with systemd-analyze verify), fstab without a local root, the network managers leaving the boot
 * NIC alone, and the ifupdown lint. The mmdebstrap run itself is covered by the real-image e2e.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autologinDropIn, hvc0GettyUnit, ifupdownProblems, networkdUnmanaged, nfsRootFstab } from '../../src/image/bootstrap.js';

/** key=value lines of a unit section (comments and blank lines left out). */
function section(unit: string, name: string): string[] {
  const m = new RegExp(`^\\[${name}\\]\\n([\\s\\S]*?)(?=^\\[|$(?![\\s\\S]))`, 'm').exec(unit);
  return (m?.[1] ?? '').split('\n').filter((l) => l && !l.startsWith('#'));
}

const TEMPLATE = '/lib/systemd/system/serial-getty@.service';

describe('serial-getty@hvc0.service', () => {
  it('is systemd\'s serial-getty@.service without BindsTo=/After=dev-%i.device: the same service, no device wait', () => {
    const unit = hvc0GettyUnit(false);
    expect(unit.split('\n').filter((l) => !l.startsWith('#')).join('\n')).not.toMatch(/dev-%i\.device/);
    expect(section(unit, 'Unit')).toContain('ConditionPathExists=/dev/%I');
    // systemd (scripts/setup.sh installs it) ships the stock unit this one must match.
    const stock = readFileSync(TEMPLATE, 'utf8');
    expect(section(unit, 'Service')).toEqual(section(stock, 'Service'));
    expect(section(unit, 'Install')).toEqual(section(stock, 'Install'));
    const after = (u: string) => section(u, 'Unit').filter((l) => l.startsWith('After=')).flatMap((l) => l.slice(6).split(' ')).filter((d) => d !== 'dev-%i.device').sort();
    expect(after(unit)).toEqual(after(stock));
  });

  it('passes systemd-analyze verify; --autologin logs root in on it and on every serial getty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xenroot-units-'));
    try {
      for (const autologin of [false, true]) {
        const f = join(dir, 'serial-getty@hvc0.service');
        await writeFile(f, hvc0GettyUnit(autologin));
        const r = await execa('systemd-analyze', ['verify', '--man=no', f], { reject: false, all: true });
        expect(r.exitCode, r.all).toBe(0);
        expect(hvc0GettyUnit(autologin).includes('--autologin root')).toBe(autologin);
      }
      expect(autologinDropIn()).toMatch(/^ExecStart=\n^ExecStart=-\/sbin\/agetty .*--autologin root/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the rest of the NFS-root setup', () => {
  it('fstab has no line for / (the initrd mounts it), and tmpfs for /tmp and /var/tmp', () => {
    const lines = nfsRootFstab().split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.map((l) => l.split(/\s+/)[1])).toEqual(['/tmp', '/var/tmp']);
  });

  it('networkd leaves every link unmanaged (its address is the NFS root\'s)', () => {
    expect(section(networkdUnmanaged(), 'Match')).toEqual(['Name=*']);
    expect(section(networkdUnmanaged(), 'Link')).toEqual(['Unmanaged=yes']);
  });

  it('an ifupdown stanza that would manage a NIC is reported; lo is fine', () => {
    expect(ifupdownProblems('auto lo\niface lo inet loopback\n')).toEqual([]);
    const p = ifupdownProblems('auto lo eth0\nallow-hotplug ens3\niface eth0 inet dhcp\n');
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/manage eth0/);
    expect(p[1]).toMatch(/manage ens3/);
  });
});

describe('xenroot image bootstrap (the CLI, refusals before anything is built)', () => {
  it('refuses a bad package name, --root-password with --autologin, a bad builder and an image name in use, naming each', async () => {
    const { xenroot } = await import('../support/cli.js');
    const dir = await mkdtemp(join(tmpdir(), 'xenroot-bootstrap-cli-'));
    try {
      const env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml') };
      expect((await xenroot(['init', '--nfs-server', '10.0.2.2'], { env })).code).toBe(0);
      const bad = await xenroot(['image', 'bootstrap', 'deb', '--packages', 'ok,Bad_Name', '--dir', join(dir, 'deb')], { env });
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/--packages "Bad_Name" is not a Debian package name/);
      const both = await xenroot(['image', 'bootstrap', 'deb', '--root-password-stdin', '--autologin', '--dir', join(dir, 'deb')], { env, input: 'pw\n' });
      expect(both.code).toBe(3);
      expect(both.stderr).toMatch(/a root password or --autologin, not both/);
      const builder = await xenroot(['image', 'bootstrap', 'deb', '--builder', 'grub', '--dir', join(dir, 'deb')], { env });
      expect(builder.code).toBe(3);
      expect(builder.stderr).toMatch(/--builder "grub" is not valid: must be builtin, dracut, initramfs-tools, mkinitrd/);
      expect((await xenroot(['image', 'add', 'deb', '--root', dir, '--kver', '6.1.0-1-amd64'], { env })).code).toBe(0);
      const dup = await xenroot(['image', 'bootstrap', 'deb', '--dir', join(dir, 'deb2')], { env });
      expect(dup.code).toBe(3);
      expect(dup.stderr).toMatch(/image "deb" exists already/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
