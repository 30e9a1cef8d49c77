/** The generated files of one guest, as text, from the inventory. Pure. */
import type { DomainTarget, InventoryData } from '../inventory/schema.js';
import { guestSpec, type GuestSpec, type HostPaths } from './guest-spec.js';
import { renderQemuXml, renderXenXml, type DomainXmlOptions } from './libvirt-xml.js';
import { renderXlCfg } from './xlcfg.js';

export type GuestFormat = 'xl' | 'libvirt' | 'qemu';

/** `host`: the guest's paths on its inventory host, when its boot files are shipped there. */
export function renderGuest(inv: InventoryData, name: string, format: GuestFormat, host?: HostPaths): string {
  if (format === 'xl') return renderXlCfg(guestSpec(inv, name, 'xen', host));
  if (format === 'libvirt') return renderXenXml(guestSpec(inv, name, 'xen', host));
  return renderQemuXml(guestSpec(inv, name, 'qemu', host));
}

/** The libvirt domain XML of a resolved guest for a domain flavour: Xen PV, or the QEMU test domain. */
export function renderDomainXml(spec: GuestSpec, target: DomainTarget, options: DomainXmlOptions = {}): string {
  return target === 'xen' ? renderXenXml(spec, options) : renderQemuXml(spec, options);
}
