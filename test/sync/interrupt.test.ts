import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { makeSite, type SyncSite } from './fixture.js';
import { XENROOT, xenroot } from '../support/cli.js';

let s: SyncSite | undefined;
afterAll(() => s?.cleanup());

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** Starts a sync of 4,000 clients and sends SIGINT once `threshold` files exist under the root; returns its exit code. */
async function interruptedSync(site: SyncSite, threshold: number): Promise<number | null> {
  const doc = parse(await readFile(site.inventory, 'utf8')) as { clients: Record<string, unknown> };
  for (let i = 0; i < 4000; i++) doc.clients[`pc${i}`] = { mac: `52:54:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, image: 'terminal' };
  await writeFile(site.inventory, stringify(doc));
  const env = { ...process.env, XENROOT_INVENTORY: site.inventory, XENROOT_LOG_JSON: '1' };
  const child = spawn('node', [XENROOT, 'sync', '--root', site.root], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Interrupt once the apply is under way (the first sync fills a hidden staging directory).
  for (;;) {
    const n = (await walk(site.root)).length;
    if (n > threshold || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGINT');
  return new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
}

describe('sync and SIGINT', () => {
  it('a sync interrupted by SIGINT exits 130, leaves no temp file or half-filled new directory, and the next sync completes the tree', async () => {
    // The signal must land while the apply is under way. A sync that finished first proves
    // nothing: try again on a fresh site, signalling earlier each time (bounded), else fail.
    let code: number | null = 0;
    const thresholds = [50, 20, 5, 1, 0];
    for (const threshold of thresholds) {
      await s?.cleanup();
      s = await makeSite();
      code = await interruptedSync(s, threshold);
      console.log(`interrupted sync (signal after ${threshold} files) exited with ${code}`);
      const files = await walk(s.root);
      expect(files.filter((f) => f.includes('.xenroot-'))).toEqual([]);
      if (code !== 0) break;
    }
    expect(code, `the sync finished before SIGINT in all ${thresholds.length} tries: the race was never won`).not.toBe(0);
    expect(code).toBe(130);
    // The new directories were staged and never published: a reader sees none of them.
    const cfgDir = join(s!.root, 'tftpboot/linux-install/pxelinux.cfg');
    expect(existsSync(cfgDir)).toBe(false);
    const again = await xenroot(['--json', 'sync', '--root', s!.root], { env: { XENROOT_INVENTORY: s!.inventory } });
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(cfgDir)).length).toBe(4001);
    expect(existsSync(join(cfgDir, '01-52-54-00-01-0f-9f'))).toBe(true);
    const third = await xenroot(['--json', 'sync', '--root', s!.root], { env: { XENROOT_INVENTORY: s!.inventory } });
    expect(JSON.parse(third.stdout).changes).toEqual([]);
  });
});
