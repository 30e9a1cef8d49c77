// Filesystem faults produced for real (root: small tmpfs mounts): a read-only or full filesystem
// ends a command at once with a typed one-line error naming the path, and leaves neither files
// nor inventory changed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.reverse()) execFileSync('umount', ['-l', m]);
});

function tmpfs(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'xenroot-disk-test', dir]);
  mounts.push(dir);
  return dir;
}

function fill(dir: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    // dd ends with ENOSPC: the filesystem is full
  }
}

const TEXT = 'site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\nimages:\n  terminal:\n    root: /srv/xenroot/terminal\n    kver: 6.1.0-28-amd64\nguests:\n  Old:\n    image: terminal\nclients:\n';

describe('read-only and full filesystems', () => {
  it('create and sync on a read-only inventory directory fail at once (exit 3), naming it; nothing changes', async () => {
    const dir = tmpfs('4m');
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, TEXT);
    execFileSync('mount', ['-o', 'remount,ro', dir]);
    const t0 = Date.now();
    const create = await xenroot(['--inventory', file, 'create', 'NewGuest', '--image', 'terminal']);
    expect(create.code).toBe(3);
    expect(create.stderr).toContain(`the inventory's directory ${dir} is on a read-only filesystem (EROFS)`);
    expect(create.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    const sync = await xenroot(['--inventory', file, 'sync', '--root', mkdtempSync(join(tmpdir(), 'xenroot-disk-root-'))]);
    expect(sync.code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(60_000); // not the 120 s of retries it used to wait
    expect(readFileSync(file, 'utf8')).toBe(TEXT);
  });

  it('create whose guest files land on a full filesystem fails with exit 8 naming the file; neither files nor inventory change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-disk-inv-'));
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, TEXT);
    const out = tmpfs('256k');
    fill(out);
    const r = await xenroot(['--inventory', file, 'create', 'NewGuest', '--image', 'terminal', '--out', out]);
    expect(r.code).toBe(8);
    // The file it names is the guest's .cfg or .xml, or that file in the guest's file set (issue 12's per-node switch).
    expect(r.stderr).toMatch(new RegExp(`cannot write ${out}/(\\.xenroot/NewGuest\\.[0-9a-f]{16}/)?NewGuest\\.(cfg|xml): the filesystem is full \\(ENOSPC\\)`));
    expect(r.stderr).not.toContain('internal error');
    expect(readdirSync(out)).toEqual(['filler']);
    expect(readFileSync(file, 'utf8')).toBe(TEXT);
  });

  it('create and remove with the inventory itself on a full filesystem fail without an internal error; the guest files are taken back', async () => {
    const dir = tmpfs('512k');
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, TEXT);
    mkdirSync(join(dir, 'guests'));
    fill(dir);
    const before = readdirSync(dir).sort();
    const create = await xenroot(['--inventory', file, 'create', 'NewGuest', '--image', 'terminal']);
    expect([3, 8]).toContain(create.code);
    expect(create.stderr).toMatch(/ENOSPC/);
    expect(create.stderr).not.toContain('internal error');
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(join(dir, 'guests/NewGuest.cfg'))).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(TEXT);
    const remove = await xenroot(['--inventory', file, 'remove', 'Old']);
    expect([3, 8]).toContain(remove.code);
    expect(remove.stderr).not.toContain('internal error');
    expect(readFileSync(file, 'utf8')).toBe(TEXT);
  });
});
