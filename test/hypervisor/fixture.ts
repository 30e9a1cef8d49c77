/** A throwaway inventory for hypervisor tests: one image, guests created through the real inventory API. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGuest } from '../../src/ops/create-guest.js';

export interface InventoryFixture {
  dir: string;
  file: string;
  guestDir: string;
  bootDir: string;
  addGuest(name: string, extra?: { mac?: string; append?: string; memory?: number }): Promise<void>;
  cleanup(): void;
}

export function inventoryFixture(opts: { connect?: string; kver?: string; imageRoot?: string; bootDir?: string } = {}): InventoryFixture {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-hv-inv-'));
  const imageRoot = opts.imageRoot ?? join(dir, 'image');
  mkdirSync(imageRoot, { recursive: true });
  const bootDir = opts.bootDir ?? join(dir, 'boot');
  mkdirSync(bootDir, { recursive: true });
  const file = join(dir, 'inventory.yaml');
  writeFileSync(
    file,
    [
      '# hypervisor test inventory',
      'site:',
      '  nfsServer: "10.0.2.2"',
      '  allow: ["10.0.2.0/24"]',
      `  bootDir: ${JSON.stringify(bootDir)}`,
      `  connect: ${JSON.stringify(opts.connect ?? 'test:///default')}`,
      'images:',
      '  tiny:',
      `    root: ${JSON.stringify(imageRoot)}`,
      `    kver: ${JSON.stringify(opts.kver ?? '6.1.0-28-amd64')}`,
      'guests:',
      'clients:',
      '',
    ].join('\n'),
  );
  return {
    dir,
    file,
    guestDir: join(dir, 'guests'),
    bootDir,
    async addGuest(name, extra = {}) {
      await createGuest(file, { name, image: 'tiny', memory: extra.memory ?? 256, ...(extra.mac ? { mac: extra.mac } : {}), ...(extra.append ? { append: extra.append } : {}) });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
