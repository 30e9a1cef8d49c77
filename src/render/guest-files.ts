/** The generated files of one guest, as text, from the inventory. Pure. */
import type { InventoryData } from '../inventory/schema.js';
import { guestSpec } from './guest-spec.js';
import { renderQemuXml, renderXenXml } from './libvirt-xml.js';
import { renderXlCfg } from './xlcfg.js';

export type GuestFormat = 'xl' | 'libvirt' | 'qemu';

export function renderGuest(inv: InventoryData, name: string, format: GuestFormat): string {
  if (format === 'xl') return renderXlCfg(guestSpec(inv, name, 'xen'));
  if (format === 'libvirt') return renderXenXml(guestSpec(inv, name, 'xen'));
  return renderQemuXml(guestSpec(inv, name, 'qemu'));
}
