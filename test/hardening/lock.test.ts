// One lock policy: a held lock is waited for with a message naming its holder; a holder that was
// stopped past the stale time loses the lock and stops with a clear error, applying nothing.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { withInventoryLock } from '../../src/inventory/lock.js';
import { XENROOT, xenroot } from '../support/cli.js';

function inventory(guests = 0): string {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-lock-'));
  const file = join(dir, 'inventory.yaml');
  let text = 'site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  dhcp:\n    server: none\nimages:\n  terminal:\n    root: /srv/xenroot/terminal\n    kver: 6.1.0-28-amd64\nclients:\nguests:\n';
  for (let i = 0; i < guests; i++) text += `  g${i}:\n    image: terminal\n    mac: 00:16:3e:01:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}\n`;
  writeFileSync(file, text);
  return file;
}

describe('the inventory lock', () => {
  it('a command waiting for a held lock says who holds it after a second, then goes on', async () => {
    const file = inventory();
    // The holder keeps the lock until the waiter has said who holds it (however long the waiter
    // takes to start on a loaded machine), then releases it; the waiter must then finish.
    let stderr = '';
    let child: ReturnType<typeof spawn> | undefined;
    const exited = new Promise<number | null>((resolve) => {
      void withInventoryLock(file, async () => {
        child = spawn('node', [XENROOT, '--inventory', file, 'create', 'g', '--image', 'terminal'], { env: { ...process.env, XENROOT_LOG_JSON: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (c) => resolve(c));
        while (!/waiting for the inventory lock/.test(stderr) && child.exitCode === null) await sleep(50);
        expect(child.exitCode, stderr).toBeNull(); // still waiting while the lock is held
      });
    });
    expect(await exited, stderr).toBe(0);
    expect(stderr).toMatch(new RegExp(`waiting for the inventory lock held by PID ${process.pid}`));
    expect(readFileSync(file, 'utf8')).toContain('  g:');
  });

  it('a sync suspended (SIGSTOP) past the stale time loses the lock and, resumed, stops with a one-line error and applies nothing', async () => {
    const file = inventory(3000);
    const root = mkdtempSync(join(tmpdir(), 'xenroot-lock-root-'));
    const env = { ...process.env, XENROOT_LOCK_STALE_MS: '2000', XENROOT_LOG_JSON: '1' };
    const child = spawn(process.execPath, [XENROOT, '--inventory', file, 'sync', '--root', root], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Wait until it holds the lock (the lock file exists only complete, naming its holder), then stop it.
    for (let i = 0; i < 1000 && !existsSync(`${file}.lock`); i++) await sleep(5);
    child.kill('SIGSTOP');
    await sleep(3500);
    // Another command takes the stale lock over and changes the inventory.
    const other = await xenroot(['--inventory', file, 'create', 'late', '--image', 'terminal'], { env: { XENROOT_LOCK_STALE_MS: '2000' } });
    expect(other.code, other.stderr).toBe(0);
    child.kill('SIGCONT');
    const code = await exited;
    expect(code, stderr).toBe(3);
    expect(stderr).toContain('lost the inventory lock');
    expect(stderr).not.toMatch(/ECOMPROMISED|\n\s+at /);
    // Nothing of the plan became visible: no guest file under the root.
    expect(existsSync(join(root, file.replace(/inventory\.yaml$/, 'guests')))).toBe(false);
  }, 60_000);
});
