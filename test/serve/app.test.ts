/**
 * The boot service's routes through fastify's inject (no socket): boot files confined to the TFTP
 * tree and never a secret, check-ins judged against the inventory and stored on disk before the
 * reply, refusals logged and kept for status.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildServeApp } from '../../src/serve/app.js';
import { inventoryView } from '../../src/serve/view.js';
import { readNodeCheckins, readRefusals } from '../../src/ops/steps/checkins.js';
import { emptyIndex, writeRevisionIndex } from '../../src/inventory/revision-store.js';
import { loadInventory } from '../../src/ops/steps/store.js';

let dir: string;
let inv: string;
let tftp: string;
let checkins: string;
const savedState = process.env.XENROOT_STATE_DIR;

function inventoryText(clients: string): string {
  return `site:
  nfsServer: 127.0.0.1
  allow: [127.0.0.0/8]
  tftpRoot: ${tftp}
  exportRoot: ${dir}/srv
  bootDir: ${dir}/boot
  serve:
    listen: 127.0.0.1:8080
images:
  tiny:
    root: ${dir}/tiny
    kver: 6.1.0-test
clients:
${clients}`;
}

const PC1 = `  pc1:\n    mac: 52:54:00:aa:00:01\n    image: tiny\n    address: 127.0.1.1/8\n`;
const PC2 = `  pc2:\n    mac: 52:54:00:aa:00:02\n    image: tiny\n`;

async function app(neighbours: Record<string, string> = {}): Promise<FastifyInstance> {
  return buildServeApp({ view: await inventoryView(inv), checkins, neighbour: (a) => neighbours[a] });
}

const checkin = (over: Record<string, unknown> = {}) => ({
  bootId: '0b3d2a6e-4f1c-4c55-9a2e-5d8c1f0e7a11',
  mac: '52:54:00:aa:00:01',
  revision: null,
  initrd: 'builtin',
  kernel: '6.1.0-test',
  state: 'running',
  ...over,
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-serve-'));
  process.env.XENROOT_STATE_DIR = join(dir, 'state');
  tftp = join(dir, 'tftp');
  checkins = join(dir, 'state', 'checkins');
  mkdirSync(join(tftp, 'images/tiny'), { recursive: true });
  mkdirSync(join(tftp, 'identity'), { recursive: true });
  writeFileSync(join(tftp, 'images/tiny/vmlinuz-6.1.0-test'), 'KERNEL', { mode: 0o644 });
  writeFileSync(join(tftp, 'identity/node-pc1.cpio.gz'), 'PRIVATE KEY', { mode: 0o644 });
  writeFileSync(join(tftp, 'images/tiny/secret.txt'), 'SECRET', { mode: 0o600 });
  writeFileSync(join(dir, 'outside'), 'OUTSIDE', { mode: 0o644 });
  symlinkSync(join(dir, 'outside'), join(tftp, 'images/tiny/escape'));
  symlinkSync('../../identity/node-pc1.cpio.gz', join(tftp, 'images/tiny/piece'));
  inv = join(dir, 'inventory.yaml');
  writeFileSync(inv, inventoryText(PC1 + PC2));
});

afterEach(() => {
  if (savedState === undefined) delete process.env.XENROOT_STATE_DIR;
  else process.env.XENROOT_STATE_DIR = savedState;
  rmSync(dir, { recursive: true, force: true });
});

describe('boot files over HTTP', () => {
  it('sends a kernel of the TFTP tree with its length', async () => {
    const a = await app();
    const r = await a.inject({ method: 'GET', url: '/boot/images/tiny/vmlinuz-6.1.0-test' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('KERNEL');
    expect(r.headers['content-length']).toBe('6');
    await a.close();
  });

  it('answers 404 for an unknown file and 400 for an empty segment or bad encoding', async () => {
    const a = await app();
    expect((await a.inject({ method: 'GET', url: '/boot/images/tiny/nothing' })).statusCode).toBe(404);
    expect((await a.inject({ method: 'GET', url: '/boot/images//tiny/vmlinuz-6.1.0-test' })).statusCode).toBe(400);
    expect((await a.inject({ method: 'GET', url: '/boot/images/%ff' })).statusCode).toBe(400);
    await a.close();
  });

  it('answers 400 to a raw request line with .. or %2e%2e that no client normalised', async () => {
    const a = await app();
    await a.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.server.address() as { port: number };
    // A raw request line, as no HTTP client library would send it (they normalise the path).
    const rawGet = (path: string) =>
      new Promise<string>((res, rej) => {
        const s = connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let text = '';
        s.on('data', (d) => (text += d.toString()));
        s.on('end', () => res(text));
        s.on('error', rej);
      });
    const reply = await rawGet('/boot/images/../../outside');
    expect(reply).toMatch(/^HTTP\/1.1 400 /);
    expect(reply).not.toMatch(/OUTSIDE/);
    const encoded = await rawGet('/boot/images/%2e%2e/%2E%2E/outside');
    expect(encoded).toMatch(/^HTTP\/1.1 400 /);
    await a.close();
  });

  it('never sends an identity piece, a file not readable by everyone, or a link out of the tree or into identity/', async () => {
    const a = await app();
    for (const url of ['/boot/identity/node-pc1.cpio.gz', '/boot/images/tiny/secret.txt', '/boot/images/tiny/escape', '/boot/images/tiny/piece']) {
      const r = await a.inject({ method: 'GET', url });
      expect(r.statusCode, url).toBe(403);
      expect(r.body).not.toMatch(/PRIVATE|SECRET|OUTSIDE/);
    }
    await a.close();
  });
});

describe('check-ins', () => {
  it('stores a check-in from the node\'s reserved address on disk before answering, and keeps it across a restart', async () => {
    const a = await app();
    const r = await a.inject({ method: 'POST', url: '/checkin', payload: checkin(), remoteAddress: '127.0.1.1' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ node: 'pc1', stored: true });
    // On disk already, read without the service.
    expect(readNodeCheckins(checkins, 'pc1')?.boots[0]).toMatchObject({ node: 'pc1', state: 'running', from: '127.0.1.1', revision: null });
    await a.close();
    const b = await app();
    await b.inject({ method: 'POST', url: '/checkin', payload: checkin({ bootId: '1b3d2a6e-4f1c-4c55-9a2e-5d8c1f0e7a11', state: 'degraded' }), remoteAddress: '127.0.1.1' });
    expect(readNodeCheckins(checkins, 'pc1')?.boots.map((x) => x.state)).toEqual(['degraded', 'running']);
    await b.close();
  });

  it('believes a node without a reserved address only when the neighbour table holds its MAC for the source', async () => {
    const a = await app({ '127.0.2.9': '52:54:00:aa:00:02', '127.0.2.10': '52:54:00:aa:00:99' });
    const body = checkin({ mac: '52:54:00:aa:00:02' });
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: body, remoteAddress: '127.0.2.10' })).statusCode).toBe(403);
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: body, remoteAddress: '127.0.2.11' })).statusCode).toBe(403);
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: body, remoteAddress: '127.0.2.9' })).statusCode).toBe(200);
    await a.close();
  });

  it('refuses an unknown MAC, a forged MAC or revision, a malformed and a too-large body: nothing stored, each refusal kept', async () => {
    const a = await app();
    const post = (payload: unknown, remoteAddress = '127.0.1.1', headers: Record<string, string> = {}) =>
      a.inject({ method: 'POST', url: '/checkin', payload: payload as string, remoteAddress, headers: { 'content-type': 'application/json', ...headers } });
    expect((await post(checkin({ mac: '52:54:00:aa:00:77' }))).statusCode).toBe(404);
    expect((await post(checkin(), '127.0.1.2')).statusCode).toBe(403);
    expect((await post(checkin({ revision: 3 }))).statusCode).toBe(422);
    expect((await post(checkin({ state: 'fine' }))).statusCode).toBe(400);
    expect((await post(checkin({ extra: 1 }))).statusCode).toBe(400);
    expect((await post(checkin({ revision: '1' }))).statusCode).toBe(400);
    expect((await post('{"bootId": ')).statusCode).toBe(400);
    expect((await post(JSON.stringify(checkin({ kernel: 'x'.repeat(2000) })))).statusCode).toBe(413);
    expect(readNodeCheckins(checkins, 'pc1')).toBeUndefined();
    await a.close();
    const kept = readRefusals(checkins);
    expect(kept.map((r) => r.status).sort()).toEqual([400, 400, 400, 400, 403, 404, 413, 422]);
    expect(kept.find((r) => r.status === 403)).toMatchObject({ node: 'pc1', from: '127.0.1.2', path: '/checkin' });
    expect(kept.find((r) => r.status === 422)?.reason).toMatch(/revision 3 of tiny/);
  });

  it('accepts a published revision of the node\'s image and refuses a pruned one', async () => {
    const site = (await loadInventory(inv)).data.site;
    const rec = (revision: number, pruned: boolean) => ({ revision, publishedAt: '2026-01-01T00:00:00Z', source: {}, path: '', export: '', kver: '6.1.0-test', files: 0, bytes: 0, addedBytes: 0, manifestSha256: '', linkedTo: undefined, staged: {}, tests: [], ...(pruned ? { prunedAt: '2026-01-02T00:00:00Z' } : {}) });
    await writeRevisionIndex(site, { ...emptyIndex(site, 'tiny'), next: 3, revisions: [rec(1, true), rec(2, false)] });
    const a = await app();
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: checkin({ revision: 1 }), remoteAddress: '127.0.1.1' })).statusCode).toBe(422);
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: checkin({ revision: 2 }), remoteAddress: '127.0.1.1' })).statusCode).toBe(200);
    await a.close();
  });

  it('sees a client added to the inventory by the next request, without a restart or a reload', async () => {
    const a = await app();
    const body = checkin({ mac: '52:54:00:aa:00:03' });
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: body, remoteAddress: '127.0.1.3' })).statusCode).toBe(404);
    writeFileSync(inv, inventoryText(PC1 + PC2 + `  pc3:\n    mac: 52:54:00:aa:00:03\n    image: tiny\n    address: 127.0.1.3/8\n`));
    expect((await a.inject({ method: 'POST', url: '/checkin', payload: body, remoteAddress: '127.0.1.3' })).statusCode).toBe(200);
    await a.close();
  });

  it('keeps every acknowledged check-in when many nodes and one node\'s boots check in at once', async () => {
    const n = 60;
    const clients = Array.from({ length: n }, (_, i) => `  n${i}:\n    mac: 52:54:00:bb:00:${i.toString(16).padStart(2, '0')}\n    image: tiny\n    address: 127.0.3.${i + 1}/8\n`).join('');
    writeFileSync(inv, inventoryText(PC1 + clients));
    const a = await app();
    const boots = Array.from({ length: 15 }, (_, i) => `${i.toString(16).padStart(8, '0')}-4f1c-4c55-9a2e-5d8c1f0e7a11`);
    const replies = await Promise.all([
      ...Array.from({ length: n }, (_, i) => a.inject({ method: 'POST', url: '/checkin', payload: checkin({ mac: `52:54:00:bb:00:${i.toString(16).padStart(2, '0')}` }), remoteAddress: `127.0.3.${i + 1}` })),
      ...boots.map((bootId) => a.inject({ method: 'POST', url: '/checkin', payload: checkin({ bootId }), remoteAddress: '127.0.1.1' })),
    ]);
    expect(replies.map((r) => r.statusCode)).toEqual(replies.map(() => 200));
    for (let i = 0; i < n; i++) expect(readNodeCheckins(checkins, `n${i}`)?.boots).toHaveLength(1);
    expect(new Set(readNodeCheckins(checkins, 'pc1')?.boots.map((b) => b.bootId))).toEqual(new Set(boots));
    await a.close();
  });
});

it('writes a JSON file per node with mode 0600', async () => {
  const a = await app();
  await a.inject({ method: 'POST', url: '/checkin', payload: checkin(), remoteAddress: '127.0.1.1' });
  await a.close();
  expect(JSON.parse(readFileSync(join(checkins, 'pc1.json'), 'utf8')).node).toBe('pc1');
});
