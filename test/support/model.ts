/** Builders of small valid inventories for tests (validated through the real schema). */
import { InventorySchema, type InventoryData } from '../../src/inventory/schema.js';

export function inventory(over: { site?: Record<string, unknown>; images?: Record<string, unknown>; guests?: Record<string, unknown>; clients?: Record<string, unknown> } = {}): InventoryData {
  return InventorySchema.parse({
    site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], ...over.site },
    images: over.images ?? { terminal: { root: '/srv/xenroot/terminal', kver: '6.1.0-28-amd64' } },
    guests: over.guests ?? {},
    clients: over.clients ?? {},
  });
}
