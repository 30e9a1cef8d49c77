// A temp file left by a writer killed with SIGKILL carries a name the next run recognises
// (.NAME.xenroot-tmp-PID-N) and is removed once its PID is gone; a live writer's is left alone.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepTempFiles, tempPath } from '../../src/sys/atomic.js';
import { XENROOT, xenroot } from '../support/cli.js';

/** A PID that no process has: above the kernel's pid_max. */
const DEAD = 4_194_305;

describe('temp files of interrupted writers', () => {
  it('are named after their target and their writer', () => {
    expect(tempPath('/a/b/01-00-16-3e-00-00-01')).toMatch(new RegExp(`^/a/b/\\.01-00-16-3e-00-00-01\\.xenroot-tmp-${process.pid}-\\d+$`));
  });

  it('sweepTempFiles removes those of dead writers only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-sweep-'));
    writeFileSync(join(dir, `.x.cfg.xenroot-tmp-${DEAD}-0`), '');
    mkdirSync(join(dir, `.pxelinux.cfg.xenroot-tmp-${DEAD}-1`));
    writeFileSync(join(dir, `.y.cfg.xenroot-tmp-${process.ppid}-0`), '');
    writeFileSync(join(dir, 'x.cfg.1a2b3c4d'), 'a user file');
    expect(sweepTempFiles(dir).sort()).toEqual([join(dir, `.pxelinux.cfg.xenroot-tmp-${DEAD}-1`), join(dir, `.x.cfg.xenroot-tmp-${DEAD}-0`)]);
    expect(existsSync(join(dir, `.y.cfg.xenroot-tmp-${process.ppid}-0`))).toBe(true);
    expect(existsSync(join(dir, 'x.cfg.1a2b3c4d'))).toBe(true);
  });

  it('after a sync killed with SIGKILL mid-apply, the next sync removes every temp file and staging dir it left and completes the tree', async () => {
    let text = 'site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  dhcp:\n    server: none\nimages:\n  terminal:\n    root: /srv/xenroot/terminal\n    kver: 6.1.0-28-amd64\nclients:\nguests:\n';
    for (let i = 0; i < 3000; i++) text += `  g${i}:\n    image: terminal\n`;
    // The first sync of an empty root fills the tree under a staging name (the top-most directory
    // it creates, here ROOT/.tmp.xenroot-tmp-PID-N): kill it while that exists. Each attempt starts
    // from a new inventory (its own state) and a new empty root: a sync into a root an earlier
    // attempt completed writes each file under a temp name that lives for microseconds, so a
    // missed first kill used to make every later attempt a no-op (seen in a fresh-machine run: 20
    // attempts, none landed).
    let dir = '';
    let inv = '';
    let root = '';
    let seen: string[] = [];
    for (let attempt = 0; attempt < 20 && seen.length === 0; attempt++) {
      dir = mkdtempSync(join(tmpdir(), 'xenroot-sweep-inv-'));
      inv = join(dir, 'inventory.yaml');
      writeFileSync(inv, text);
      root = mkdtempSync(join(tmpdir(), 'xenroot-sweep-root-'));
      const staging = () => readdirSync(root).some((n) => n.includes('.xenroot-tmp-'));
      const child = spawn(process.execPath, [XENROOT, '--inventory', inv, 'sync', '--root', root, '--no-reload'], { stdio: 'ignore' });
      const exited = new Promise<void>((res) => child.on('exit', () => res()));
      for (let i = 0; i < 5000 && child.exitCode === null && !staging(); i++) await sleep(1);
      child.kill('SIGKILL');
      await exited;
      seen = findTemps(root);
    }
    const guests = join(root, dir, 'guests');
    const stray = () => findTemps(root);
    expect(seen.length, 'a SIGKILL landed while temp files existed').toBeGreaterThan(0);
    const r = await xenroot(['--inventory', inv, 'sync', '--root', root, '--no-reload']);
    expect(r.code, r.stderr).toBe(0);
    expect(stray()).toEqual([]);
    expect(r.stderr).toContain('left by an interrupted run');
    expect(existsSync(join(guests, 'g2999.xml'))).toBe(true);
  }, 120_000);

  it('the next inventory write removes a temp file of the inventory left by a killed writer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-sweep-inv-'));
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, 'site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\nimages:\n  terminal:\n    root: /srv/xenroot/terminal\n    kver: 6.1.0-28-amd64\nguests:\nclients:\n');
    const invLeftover = join(dir, `.inventory.yaml.xenroot-tmp-${DEAD}-2`);
    writeFileSync(invLeftover, '');
    expect((await xenroot(['--inventory', inv, 'create', 'h', '--image', 'terminal'])).code).toBe(0);
    expect(existsSync(invLeftover)).toBe(false);
  });
});

/** Every temp file or staging dir (xenroot-tmp names) under `dir`. */
function findTemps(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.includes('.xenroot-tmp-')) out.push(join(d, n));
      else if (statSync(join(d, n), { throwIfNoEntry: false })?.isDirectory()) walk(join(d, n));
    }
  };
  walk(dir);
  return out;
}
