/**
 * Real Xen, nested: Xen 4.17 boots under QEMU TCG with a PV dom0 (scripts/xen/build-dom0.sh), and a
 * PV guest defined through libvirt from the host (xen+tcp through a loopback port forward) boots.
 * Opt-in: XENROOT_TEST_XEN=1 (npm run test:xen); minutes of TCG time on 2 cores.
 */
import { execa } from 'execa';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDom0, startNestedXen, writeMarkerInitrd, type NestedXen } from '../support/xen.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!process.env.XENROOT_TEST_XEN)('nested Xen harness', () => {
  let xen: NestedXen | undefined;
  let share: string;

  beforeAll(async () => {
    const b = await buildDom0();
    console.log(`dom0 build: ${b.ms} ms this run (${b.manifest.buildSeconds} s when built), ${JSON.stringify(b.manifest.bytes)}`);
    share = await mkdtemp(join(tmpdir(), 'xenroot-xenshare-'));
    await copyFile(b.vmlinuz, join(share, 'vmlinuz'));
    await writeMarkerInitrd(join(share, 'marker.gz'), 'XENROOT-PV-MARKER');
    xen = await startNestedXen({ share });
    console.log(`nested Xen: QEMU start -> dom0 libvirtd answering: ${xen.readyMs} ms`);
  }, 1_800_000);

  afterAll(async () => {
    await xen?.stop();
    if (xen) await rm(xen.workDir, { recursive: true, force: true });
    if (share) await rm(share, { recursive: true, force: true });
  }, 60_000);

  it('runs Xen 4.17 with the xl toolstack in dom0 (xl info through the 9p agent)', async () => {
    const info = await xen!.mustRunInDom0('xl info');
    expect(info).toMatch(/xen_major\s+:\s+4/);
    expect(info).toMatch(/xen_minor\s+:\s+17/);
    expect(info).toMatch(/virt_caps\s+:.*\bpv\b/);
    expect(await xen!.mustRunInDom0('xl list')).toMatch(/^Domain-0\s+0\s/m);
  });

  it('answers libvirt over xen+tcp from the host with Xen PV capabilities', async () => {
    const { stdout } = await execa('virsh', ['-c', xen!.uri, 'capabilities']);
    expect(stdout).toContain('<os_type>xen</os_type>');
    expect(stdout).toMatch(/<domain type='xen'/);
  });

  it('boots a PV guest defined through libvirt from the host; its marker reaches hvc0 and xl sees the same MAC', async () => {
    const name = 'pvsmoke';
    const xml = `<domain type='xen'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type>linux</type><kernel>${share}/vmlinuz</kernel><initrd>${share}/marker.gz</initrd><cmdline>console=hvc0 quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <interface type='bridge'><source bridge='xenbr0'/></interface>
    <console type='pty'><target type='xen' port='0'/></console>
  </devices>
</domain>
`;
    const xmlFile = join(share, `${name}.xml`);
    await writeFile(xmlFile, xml);
    const virsh = (...a: string[]) => execa('virsh', ['-c', xen!.uri, ...a], { timeout: 300_000 });
    await virsh('define', xmlFile);
    try {
      const t0 = Date.now();
      await virsh('start', name);
      let log = '';
      for (let i = 0; i < 600 && !log.includes('XENROOT-PV-MARKER'); i++) {
        await sleep(500);
        log = (await xen!.runInDom0(`cat /var/log/xen/console/guest-${name}.log 2>/dev/null`)).output;
      }
      console.log(`PV guest: virsh start -> marker on hvc0: ${Date.now() - t0} ms`);
      expect(log).toContain('XENROOT-PV-MARKER console=hvc0 quiet');
      const mac = /<mac address='([0-9a-f:]+)'/.exec((await virsh('dumpxml', name)).stdout)?.[1];
      expect(mac).toMatch(/^00:16:3e:/);
      expect(log).toContain(`nic eth0 ${mac}`);
      expect(await xen!.mustRunInDom0(`xl network-list ${name}`)).toContain(mac!);
    } finally {
      await execa('virsh', ['-c', xen!.uri, 'destroy', name], { reject: false });
      await execa('virsh', ['-c', xen!.uri, 'undefine', name], { reject: false });
    }
  }, 900_000);
});
