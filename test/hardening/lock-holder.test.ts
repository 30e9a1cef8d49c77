// The one lock judges its holder by PID + process start time: a dead holder's or a reused PID's
// lock is taken without waiting; a live holder is waited for until it is gone.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLockNote, withLock } from '../../src/sys/lock.js';
import { processStart } from '../../src/sys/proc.js';

const fail = (err: NodeJS.ErrnoException): Error => err;
const saved = process.env.XENROOT_LOCK_STALE_MS;

function lockFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'xenroot-lockholder-')), 'thing.lock');
}

function note(pid: number, start: string): string {
  return JSON.stringify({ pid, start, command: 'sync', since: '10:00:00', token: 'f'.repeat(16) }) + '\n';
}

describe('the lock judges its holder by PID and start time', () => {
  afterEach(() => {
    if (saved === undefined) delete process.env.XENROOT_LOCK_STALE_MS;
    else process.env.XENROOT_LOCK_STALE_MS = saved;
  });

  it('a lock whose holder PID is dead is taken at once, without waiting', async () => {
    // A stopped-holder takeover would need an hour here: only the dead-PID rule can take it.
    process.env.XENROOT_LOCK_STALE_MS = '3600000';
    const gone = spawnSync('true');
    expect(gone.pid).toBeGreaterThan(0);
    const path = lockFile();
    writeFileSync(path, note(gone.pid, '1'));
    let waited = false;
    const inside = await withLock(path, { fail, onWait: () => (waited = true) }, async () => readLockNote(path));
    expect(waited).toBe(false);
    expect(inside?.pid).toBe(process.pid);
    expect(inside?.start).toBe(processStart(process.pid));
    expect(existsSync(path)).toBe(false);
  });

  it('a lock whose PID is alive but started at another time (a reused PID) is taken at once', async () => {
    process.env.XENROOT_LOCK_STALE_MS = '3600000';
    const other = spawn('sleep', ['600'], { stdio: 'ignore' });
    try {
      const real = processStart(other.pid!);
      expect(real).toBeTruthy();
      const path = lockFile();
      writeFileSync(path, note(other.pid!, `${Number(real) - 1}`));
      let waited = false;
      const inside = await withLock(path, { fail, onWait: () => (waited = true) }, async () => readLockNote(path));
      expect(waited).toBe(false);
      expect(inside?.pid).toBe(process.pid);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a lock whose holder is alive is waited for, and taken once the holder is gone', async () => {
    process.env.XENROOT_LOCK_STALE_MS = '3600000';
    const holder = spawn('sleep', ['600'], { stdio: 'ignore' });
    const exited = new Promise((res) => holder.on('exit', res));
    const path = lockFile();
    writeFileSync(path, note(holder.pid!, processStart(holder.pid!)!));
    let taken = false;
    let onWait!: () => void;
    const waiting = new Promise<void>((res) => (onWait = res));
    const run = withLock(path, { fail, onWait }, async () => {
      taken = true;
      return readLockNote(path);
    });
    // The waiter says it is waiting (after a second of it): the holder's note is still there.
    await waiting;
    expect(taken).toBe(false);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(holder.pid);
    holder.kill('SIGKILL');
    await exited;
    const inside = await run;
    expect(inside?.pid).toBe(process.pid);
  });
});
