/**
 * `status` for physical clients from the boot service's check-ins: last seen, revision booted
 * against assigned (drift), health, never seen, and the service's refusals.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildServeApp } from '../../src/serve/app.js';
import { inventoryView } from '../../src/serve/view.js';
import { clientStatus } from '../../src/ops/guest-status.js';
import { emptyIndex, writeRevisionIndex } from '../../src/inventory/revision-store.js';
import { loadInventory } from '../../src/ops/steps/store.js';
import { checkinDir } from '../../src/ops/steps/checkins.js';
import { stateDir } from '../../src/inventory/paths.js';

let dir: string;
let inv: string;
const savedState = process.env.XENROOT_STATE_DIR;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-serve-status-'));
  process.env.XENROOT_STATE_DIR = join(dir, 'state');
  mkdirSync(join(dir, 'tftp'));
  inv = join(dir, 'inventory.yaml');
  const client = (n: number, rev?: number) => `  pc${n}:\n    mac: 52:54:00:cc:00:0${n}\n    image: tiny\n    address: 127.0.4.${n}/8\n${rev ? `    revision: ${rev}\n` : ''}`;
  writeFileSync(
    inv,
    `site:\n  nfsServer: 127.0.0.1\n  allow: [127.0.0.0/8]\n  tftpRoot: ${dir}/tftp\n  exportRoot: ${dir}/srv\n  bootDir: ${dir}/boot\nimages:\n  tiny:\n    root: ${dir}/tiny\n    kver: 6.1.0-test\nclients:\n${client(1, 2)}${client(2, 2)}${client(3, 2)}${client(4)}`,
  );
});

afterEach(() => {
  if (savedState === undefined) delete process.env.XENROOT_STATE_DIR;
  else process.env.XENROOT_STATE_DIR = savedState;
  rmSync(dir, { recursive: true, force: true });
});

it('shows each client healthy, degraded or never seen, with drift where it booted another revision than assigned, and the refusals', async () => {
  const site = (await loadInventory(inv)).data.site;
  const rec = (revision: number) => ({ revision, publishedAt: '2026-01-01T00:00:00Z', source: {}, path: '', export: '', kver: '6.1.0-test', files: 0, bytes: 0, addedBytes: 0, manifestSha256: '', linkedTo: undefined, staged: {}, tests: [] });
  await writeRevisionIndex(site, { ...emptyIndex(site, 'tiny'), next: 3, revisions: [rec(1), rec(2)] });
  const a = await buildServeApp({ view: await inventoryView(inv), checkins: checkinDir(stateDir(inv, site)), neighbour: () => undefined });
  const body = (n: number, revision: number | null, state: string) => ({ bootId: `0000000${n}-4f1c-4c55-9a2e-5d8c1f0e7a11`, mac: `52:54:00:cc:00:0${n}`, revision, initrd: 'builtin', kernel: '6.1.0-test', state });
  const post = (n: number, revision: number | null, state: string, from = `127.0.4.${n}`) => a.inject({ method: 'POST', url: '/checkin', payload: body(n, revision, state), remoteAddress: from });
  expect((await post(1, 2, 'running')).statusCode).toBe(200);
  expect((await post(2, 1, 'degraded')).statusCode).toBe(200);
  expect((await post(4, null, 'ready')).statusCode).toBe(200);
  expect((await post(3, 2, 'running', '127.0.4.9')).statusCode).toBe(403);
  expect((await a.inject({ method: 'POST', url: '/checkin', payload: body(7, null, 'running'), remoteAddress: '127.0.4.7' })).statusCode).toBe(404);
  await a.close();

  const { clients, refusals } = await clientStatus(inv);
  const by = Object.fromEntries(clients.map((c) => [c.name, c]));
  expect(by.pc1).toMatchObject({ health: 'healthy', running: 'tiny@2', nextBoot: 'tiny@2', drift: false, refusals: [] });
  expect(by.pc1!.lastSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(by.pc2).toMatchObject({ health: 'degraded', running: 'tiny@1', nextBoot: 'tiny@2', drift: true });
  expect(by.pc3).toMatchObject({ health: 'never-seen', running: null, lastSeen: null, drift: false });
  expect(by.pc3!.refusals.map((r) => [r.status, r.from])).toEqual([[403, '127.0.4.9']]);
  expect(by.pc4).toMatchObject({ health: 'healthy', running: 'tiny', nextBoot: 'tiny', drift: false });
  expect(refusals.map((r) => r.status)).toEqual([404]);
});
