// Length limits are checked where a value enters (a flag, an edit of a group or the site, a hand
// edit read at load), against each consumer that reads the final line: Linux as pxelinux and as
// iPXE pass it, syslinux's config line, Xen's PV guest command line. The error names the node
// and the consumer (exit 3), and nothing is written.
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/render/boot-limits.js';
import { pxeLimitChecks, xenLimitChecks, LINUX_CMDLINE_MAX, SYSLINUX_LINE_MAX, XEN_PV_CMDLINE_MAX } from '../../src/render/boot-limits.js';
import { parseInventoryText } from '../../src/ops/steps/store.js';
import { nodeCmdline } from '../../src/render/cmdline.js';
import { xenroot } from '../support/cli.js';

/** Space-separated arguments `PREFIXnnnn=abcdefgh` making exactly `bytes` bytes (give a multiple of 15 minus 1). */
const args = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}=abcdefgh`).join(' ');

function site(): { dir: string; inv: string; run: (a: string[]) => ReturnType<typeof xenroot> } {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-limits-'));
  const inv = join(dir, 'inventory.yaml');
  mkdirSync(join(dir, 'r'));
  writeFileSync(inv, `site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  dhcp:\n    server: none\nimages:\n  t:\n    root: ${dir}/r\n    kver: 6.1.0-28-amd64\nguests:\nclients:\ngroups:\n  lab:\n    image: t\n`);
  return { dir, inv, run: (a) => xenroot(['-i', inv, ...a]) };
}

describe('command line limits at entry', () => {
  it('an append that fits the schema at `client add` but not the line pxelinux and iPXE pass to Linux is refused there (it used to fail the whole sync later)', async () => {
    const s = site();
    const before = readFileSync(s.inv, 'utf8');
    const append = args('x', 133); // 1,994 bytes: under the schema's 2,047 on its own
    expect(append.length).toBeLessThan(LINUX_CMDLINE_MAX);
    const r = await s.run(['client', 'add', '00:16:3e:00:00:01', '--name', 'pc1', '--append', append]);
    expect(r.code).toBe(3);
    const line = r.stderr.split('\n')[0]!;
    expect(line).toContain('clients.pc1: the kernel command line it boots (with its own append) is too long');
    expect(line).toContain("Linux's command line as pxelinux passes it (BOOT_IMAGE=, initrd=, BOOTIF=");
    expect(line).toContain("Linux's command line as iPXE passes it");
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(readFileSync(s.inv, 'utf8')).toBe(before);
    // A shorter one that fits every consumer is accepted, and sync writes its files.
    expect((await s.run(['client', 'add', '00:16:3e:00:00:01', '--name', 'pc1', '--append', args('x', 100)])).code).toBe(0);
  });

  it("a pxelinux APPEND line over syslinux's config line (readconfig.c MAX_LINE 4096) is refused naming syslinux, from an image append and a client append each under the kernel's limit", async () => {
    const s = site();
    // An image append of 2,039 bytes (no node boots it yet, so nothing is over).
    writeFileSync(s.inv, readFileSync(s.inv, 'utf8').replace('    kver: 6.1.0-28-amd64\n', `    kver: 6.1.0-28-amd64\n    append: ${args('i', 136)}\n`));
    expect((await s.run(['client', 'list'])).code).toBe(0);
    const r = await s.run(['client', 'add', '00:16:3e:00:00:01', '--name', 'pc1', '--append', args('c', 136)]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("syslinux's config line (pxelinux APPEND; readconfig.c MAX_LINE 4096), which takes at most 4095");
  }, 30_000);

  it("a Xen PV extra of 2,026 bytes is refused at `create`, naming Xen's MAX_GUEST_CMDLINE, and no guest file is written", async () => {
    const s = site();
    const gen = nodeCmdline(parseInventoryText(readFileSync(s.inv, 'utf8'), s.inv).data, 't', {}, 'xen');
    // The guest's own append makes the whole extra= line 2,026 bytes.
    const append = 'a'.repeat(2026 - gen.length - 1);
    expect(`${gen} ${append}`.length).toBe(2026);
    const r = await s.run(['create', 'g1', '--image', 't', '--append', append, '--out', join(s.dir, 'g')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("guests.g1: the kernel command line it boots (with its own append) is too long: 2026 bytes for Xen's PV guest command line (MAX_GUEST_CMDLINE 1024 in xen/include/public/xen.h), which takes at most 1023");
    expect(() => readFileSync(join(s.dir, 'g', 'g1.cfg'))).toThrow();
  });

  it("a group append that pushes a member over is refused naming the member; a site value too", async () => {
    const s = site();
    expect((await s.run(['client', 'add', '00:16:3e:00:00:02', '--name', 'lab-01', '--group', 'lab'])).code).toBe(0);
    expect((await s.run(['create', 'vm1', '--group', 'lab', '--out', join(s.dir, 'g')])).code).toBe(0);
    const before = readFileSync(s.inv, 'utf8');
    const g = await s.run(['group', 'set', 'lab', '--append', args('x', 70)]); // 1,049 bytes: fits PXE, not Xen PV
    expect(g.code).toBe(3);
    expect(g.stderr).toContain("guests.vm1: the kernel command line it boots (with the append of group lab) is too long");
    expect(g.stderr).toContain('MAX_GUEST_CMDLINE 1024');
    expect(readFileSync(s.inv, 'utf8')).toBe(before);
    // The site's NFS options are part of every line: a hand edit making them long is refused at load, naming a node.
    writeFileSync(s.inv, before.replace('  nfsServer: 10.0.2.2\n', `  nfsServer: 10.0.2.2\n  nfsOptions: ${Array.from({ length: 100 }, (_, i) => `o${i}=1`).join(',')}\n`));
    expect((await s.run(['client', 'add', '00:16:3e:00:00:03', '--name', 'lab-02', '--group', 'lab'])).code).toBe(0); // 590-byte line: fits
    const text = readFileSync(s.inv, 'utf8').replace(/nfsOptions: .*/, `nfsOptions: ${Array.from({ length: 200 }, (_, i) => `o${i}=1`).join(',')}`);
    writeFileSync(s.inv, text);
    const l = await s.run(['client', 'list']);
    expect(l.code).toBe(3);
    expect(l.stderr).toMatch(/guests\.vm1: the kernel command line it boots \(with its image's append\) is too long: \d+ bytes for Xen's PV guest command line/);
  }, 30_000);

  it('a hand edit read at load is refused with the node and the consumer, like a flag', () => {
    const F = '/etc/xenroot/inventory.yaml';
    const text = `site:\n  nfsServer: 10.0.2.2\nimages:\n  t:\n    root: /srv/t\n    kver: 6.1.0-28-amd64\n    append: ${args('i', 60)}\nclients:\n  pc1:\n    mac: 00:16:3e:00:00:01\n    image: t\n    append: ${args('c', 80)}\nguests:\n`;
    expect(() => parseInventoryText(text, F)).toThrow(`${F}: clients.pc1: the kernel command line it boots (with its own append) is too long: `);
  });

  it('the loader additions are counted: BOOT_IMAGE= and initrd= for pxelinux, initrd=NAME for iPXE, BOOTIF= unless the line has one', () => {
    const files = { kernel: 'images/t/vmlinuz-6.1.0-28-amd64-aaaaaaaaaaaa', initrd: 'images/t/initrd-6.1.0-28-amd64-pxe-bbbbbbbbbbbb.img' };
    const [pxe, ipxe, cfg] = pxeLimitChecks('ro', files);
    expect(pxe!.bytes).toBe(`BOOT_IMAGE=${files.kernel} initrd=${files.initrd} ro BOOTIF=01-00-16-3e-00-00-01`.length);
    expect(ipxe!.bytes).toBe('initrd=initrd-6.1.0-28-amd64-pxe-bbbbbbbbbbbb.img ro BOOTIF=01-00-16-3e-00-00-01'.length);
    expect(cfg!.bytes).toBe(`  APPEND initrd=${files.initrd} ro`.length);
    expect(cfg!.limit).toBe(SYSLINUX_LINE_MAX);
    const [pxe2] = pxeLimitChecks('ro BOOTIF=01-00-16-3e-00-00-01', files);
    expect(pxe2!.bytes).toBe(`BOOT_IMAGE=${files.kernel} initrd=${files.initrd} ro BOOTIF=01-00-16-3e-00-00-01`.length);
    expect(xenLimitChecks('x'.repeat(1023))[0]!.bytes).toBeLessThanOrEqual(XEN_PV_CMDLINE_MAX);
    expect(xenLimitChecks('x'.repeat(1024))[0]!.bytes).toBeGreaterThan(XEN_PV_CMDLINE_MAX);
  });
});
