// A run-time QEMU binary (the private NFS server's wrapper that starts QEMU in the server's
// network namespace) reaches libvirt as the domain's <emulator>, read back as written.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { GuestSpec } from '../../src/render/guest-spec.js';
import { renderQemuXml, renderXenXml } from '../../src/render/libvirt-xml.js';
import { RenderError } from '../../src/sys/errors.js';

const spec: GuestSpec = {
  name: 'xenroot-test-tiny-abc123',
  memory: 256,
  maxmem: 256,
  vcpus: 1,
  kernel: '/boot/vmlinuz',
  initrd: '/boot/initrd.img',
  cmdline: 'console=ttyS0',
  mac: undefined,
  bridge: 'xenbr0',
  onPoweroff: 'destroy',
  onReboot: 'destroy',
  onCrash: 'destroy',
};

const emulatorOf = (xml: string) => (new XMLParser({ parseTagValue: false }).parse(xml) as { domain: { devices: { emulator?: string } } }).domain.devices.emulator;

describe('the emulator of a QEMU test domain', () => {
  it('is written as given, read back unchanged (an & included), and libvirt\'s schema accepts the domain', async () => {
    const emulator = '/tmp/xenroot-nfs-a&b/qemu-in-netns';
    const xml = renderQemuXml({ ...spec, emulator });
    expect(emulatorOf(xml)).toBe(emulator);
    const dir = await mkdtemp(join(tmpdir(), 'xenroot-emulator-'));
    try {
      await writeFile(join(dir, 'd.xml'), xml);
      const r = await execa('virt-xml-validate', [join(dir, 'd.xml'), 'domain'], { reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is left to libvirt when none is given, and a Xen domain never names one', () => {
    expect(emulatorOf(renderQemuXml(spec))).toBeUndefined();
    expect(emulatorOf(renderXenXml({ ...spec, emulator: '/x/qemu-in-netns' }))).toBeUndefined();
  });

  it('holding a character XML cannot carry is refused, naming the field', () => {
    expect(() => renderQemuXml({ ...spec, emulator: '/tmp/a\u0001b' })).toThrow(RenderError);
    expect(() => renderQemuXml({ ...spec, emulator: '/tmp/a\u0001b' })).toThrow(/emulator/);
  });
});
