import { execa } from 'execa';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/ops/steps/store.js';
import { XENROOT, xenroot } from '../support/cli.js';

async function freshInventory(): Promise<{ dir: string; inv: string; args: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-conc-'));
  const img = join(dir, 'img');
  mkdirSync(join(img, 'boot'), { recursive: true });
  mkdirSync(join(img, 'lib/modules/6.1.0-28-amd64'), { recursive: true });
  writeFileSync(join(img, 'boot/vmlinuz-6.1.0-28-amd64'), '');
  const inv = join(dir, 'inventory.yaml');
  const args = ['--inventory', inv];
  expect((await xenroot([...args, 'init', '--nfs-server', '10.0.2.2'])).code).toBe(0);
  expect((await xenroot([...args, 'image', 'add', 'terminal', '--root', img])).code).toBe(0);
  // A hand-written comment that every concurrent writer must keep.
  writeFileSync(inv, readFileSync(inv, 'utf8').replace('guests:', '# hand-written: keep me\nguests:'));
  return { dir, inv, args };
}

describe('concurrent writers', () => {
  it('32 creates started at once give 32 guests with 32 distinct MACs, the file intact with its comments', async () => {
    const { dir, inv, args } = await freshInventory();
    const runs = await Promise.all(
      Array.from({ length: 32 }, (_, i) => execa('node', [XENROOT, ...args, 'create', `g${i}`, '--image', 'terminal', '--mac', 'auto'], { reject: false, env: { XENROOT_LOG_JSON: '1' } })),
    );
    for (const r of runs) expect(r.exitCode, String(r.stderr)).toBe(0);
    const data = (await loadInventory(inv)).data;
    expect(Object.keys(data.guests)).toHaveLength(32);
    const macs = new Set(Object.values(data.guests).map((g) => g.mac));
    expect(macs.size).toBe(32);
    const text = readFileSync(inv, 'utf8');
    expect(text).toContain('# hand-written: keep me');
    expect(text).toContain('# The address guests and PXE clients mount their root filesystem from.');
    for (let i = 0; i < 32; i++) expect(existsSync(join(dir, 'guests', `g${i}.cfg`))).toBe(true);
  });

  it('a writer killed with SIGKILL at random moments never leaves a truncated or unparsable inventory (100 trials)', async () => {
    const { inv, args } = await freshInventory();
    const created: string[] = [];
    let killedWhileLocked = 0;
    // How long one create takes on this machine now, so kills spread over start-up, lock and write.
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) expect((await xenroot([...args, 'create', `warm${i}`, '--image', 'terminal'])).code).toBe(0);
    const span = ((Date.now() - t0) / 3) * 1.1;
    created.push('warm0', 'warm1', 'warm2');
    for (let trial = 0; trial < 100; trial++) {
      const name = `k${trial}`;
      const child = execa('node', [XENROOT, ...args, 'create', name, '--image', 'terminal', '--mac', 'auto'], { reject: false, env: { XENROOT_LOG_JSON: '1' } });
      const delay = Math.floor(Math.random() * span);
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const r = await child;
      clearTimeout(timer);
      if (r.exitCode === 0) created.push(name);
      // The file must parse and validate after every kill, with every completed create in it.
      const data = (await loadInventory(inv)).data;
      for (const n of created) expect(data.guests[n], `${n} after trial ${trial}`).toBeDefined();
      expect(readFileSync(inv, 'utf8')).toContain('# hand-written: keep me');
      // A holder killed inside its critical section leaves its lock behind; the next writer takes
      // it over at once (proved below). Count and remove it here.
      if (existsSync(`${inv}.lock`)) {
        killedWhileLocked++;
        rmSync(`${inv}.lock`, { recursive: true, force: true });
      }
    }
    expect(created.length).toBeGreaterThan(0);
    expect(created.length).toBeLessThan(100);
    console.log(`SIGKILL trials: ${created.length} completed, ${100 - created.length} killed, ${killedWhileLocked} killed while holding the lock`);
  });

  it('a lock left by a SIGKILLed writer is taken over at once (its PID is gone)', async () => {
    const { inv, args } = await freshInventory();
    // A writer killed while holding the lock: its lock file names its PID, which is gone now.
    const killed = execa('sleep', ['600'], { reject: false });
    const pid = killed.pid!;
    const start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    killed.kill('SIGKILL');
    await killed;
    writeFileSync(`${inv}.lock`, JSON.stringify({ pid, start, command: 'create killed', since: '10:00:00', token: '0123456789abcdef' }) + '\n');
    // A stopped holder would be waited for an hour: only the dead-PID rule lets this create go on.
    const env = { XENROOT_LOG_JSON: '1', XENROOT_LOCK_STALE_MS: '3600000' };
    const r = await execa('node', [XENROOT, ...args, 'create', 'after', '--image', 'terminal'], { reject: false, env });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).not.toContain('waiting for the inventory lock');
    expect((await loadInventory(inv)).data.guests.after).toBeDefined();
  });
});
