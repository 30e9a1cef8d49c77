/**
 * libvirt domain XML from a GuestSpec, built with xmlbuilder2; every value from the model passes
 * xmlText first (xmlbuilder2 leaves `&NAME;` unescaped).
 * Pure. Two variants of the same guest:
 *  - xen:  <domain type='xen'>, PV (os type linux), bridge interface, Xen console (hvc0).
 *  - qemu: <domain type='qemu'> (TCG), hvm with direct kernel boot, virtio-net on QEMU user
 *          networking, serial console (ttyS0): the image-testing domain where Xen is absent.
 * A <mac> element is written only for a pinned MAC: without one libvirt generates a MAC at define.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { RenderError } from '../sys/errors.js';
import { parseMac } from '../inventory/validate.js';
import type { GuestSpec } from './guest-spec.js';
import { xmlText as text } from './xml-text.js';


function macElement(parent: XMLBuilder, mac: string | undefined): void {
  if (mac === undefined) return;
  const normal = parseMac(mac);
  if (!normal) throw new RenderError(`MAC "${mac}" is not a usable unicast address; refusing to write it`);
  parent.ele('mac', { address: normal });
}

const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

function common(root: XMLBuilder, spec: GuestSpec, uuid: string | undefined): void {
  root.ele('name').txt(text('name', spec.name));
  if (uuid !== undefined) {
    // libvirt keys a domain by UUID: a redefinition must carry the existing one, or it clashes.
    if (!UUID_RE.test(uuid)) throw new RenderError(`domain UUID ${JSON.stringify(uuid)} is not a UUID`);
    root.ele('uuid').txt(uuid);
  }
  root.ele('memory', { unit: 'KiB' }).txt(String(spec.maxmem * 1024));
  root.ele('currentMemory', { unit: 'KiB' }).txt(String(spec.memory * 1024));
  root.ele('vcpu', { placement: 'static' }).txt(String(spec.vcpus));
}

function osBoot(os: XMLBuilder, spec: GuestSpec): void {
  os.ele('kernel').txt(text('kernel', spec.kernel));
  os.ele('initrd').txt(text('initrd', spec.initrd));
  os.ele('cmdline').txt(text('cmdline', spec.cmdline));
}

function lifecycle(root: XMLBuilder, spec: GuestSpec): void {
  root.ele('on_poweroff').txt(spec.onPoweroff);
  root.ele('on_reboot').txt(spec.onReboot);
  root.ele('on_crash').txt(spec.onCrash);
}

export interface DomainXmlOptions {
  /** The UUID of the existing domain this XML redefines. */
  uuid?: string;
}

export function renderXenXml(spec: GuestSpec, options: DomainXmlOptions = {}): string {
  const root = create().ele('domain', { type: 'xen' });
  common(root, spec, options.uuid);
  const os = root.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'xenpv' }).txt('linux');
  osBoot(os, spec);
  lifecycle(root, spec);
  const devices = root.ele('devices');
  const nic = devices.ele('interface', { type: 'bridge' });
  macElement(nic, spec.mac);
  nic.ele('source', { bridge: text('bridge', spec.bridge) });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'xen', port: '0' });
  return root.end({ prettyPrint: true, headless: true }) + '\n';
}

export interface QemuOptions extends DomainXmlOptions {
  /** Extra `-netdev user` settings for PXE tests (tftp=, bootfile=) through <qemu:commandline>. */
  pxe?: { tftpRoot: string; bootfile: string };
}

export function renderQemuXml(spec: GuestSpec, options: QemuOptions = {}): string {
  const root = create().ele('domain', options.pxe ? { type: 'qemu', 'xmlns:qemu': 'http://libvirt.org/schemas/domain/qemu/1.0' } : { type: 'qemu' });
  common(root, spec, options.uuid);
  const os = root.ele('os');
  os.ele('type', { arch: 'x86_64', machine: 'pc' }).txt('hvm');
  if (options.pxe) os.ele('boot', { dev: 'network' });
  else osBoot(os, spec);
  root.ele('features').ele('acpi');
  lifecycle(root, spec);
  const devices = root.ele('devices');
  if (spec.emulator !== undefined) devices.ele('emulator').txt(text('emulator', spec.emulator));
  if (!options.pxe) {
    const nic = devices.ele('interface', { type: 'user' });
    macElement(nic, spec.mac);
    nic.ele('model', { type: 'virtio' });
  }
  const serial = devices.ele('serial', { type: 'pty' });
  // The console kept in a file on the host whether or not anyone is attached.
  if (spec.consoleLog) serial.ele('log', { file: text('consoleLog', spec.consoleLog), append: 'on' });
  serial.ele('target', { port: '0' });
  devices.ele('console', { type: 'pty' }).ele('target', { type: 'serial', port: '0' });
  if (options.pxe) {
    const { tftpRoot, bootfile } = options.pxe;
    const mac = spec.mac ?? '52:54:00:12:34:56';
    const cl = root.ele('qemu:commandline');
    for (const arg of [
      '-netdev',
      `user,id=pxe0,tftp=${text('tftpRoot', tftpRoot)},bootfile=${text('bootfile', bootfile)}`,
      '-device',
      `virtio-net-pci,netdev=pxe0,mac=${mac},bootindex=1`,
    ])
      cl.ele('qemu:arg', { value: arg });
  }
  return root.end({ prettyPrint: true, headless: true }) + '\n';
}
