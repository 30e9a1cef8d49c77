// A slice of bench/reliability.mjs (issue 16): one hostile value per flag of every writing
// command and per string field of a hand-edited inventory, one SIGKILL during sync, and ENOSPC
// (a 1 MiB tmpfs) and EROFS (a read-only bind mount) for every writing command when run as root.
// Every case must be handled: success with inert output, or a one-line error without a stack
// trace or "internal error", the inventory unchanged and valid. The full run is the bench.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xenroot } from '../support/cli.js';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../bench/reliability.mjs', import.meta.url));

describe('reliability slice', () => {
  it('every hostile flag value, hand-edited field, SIGKILL during sync, ENOSPC and EROFS case of the slice is handled', () => {
    const out = execFileSync('node', [SCRIPT], { encoding: 'utf8', env: { ...process.env, RELIABILITY_VALUES: '1', RELIABILITY_KILLS: '1', RELIABILITY_JSON: '1' }, maxBuffer: 1 << 26 });
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { tried: number; handled: number; unhandled: string[]; rows: { category: string }[] };
    expect(r.unhandled).toEqual([]);
    expect(r.tried).toBeGreaterThan(70);
    expect(r.handled).toBe(r.tried);
    expect(r.rows.map((x) => x.category)).toEqual(expect.arrayContaining(['flags', 'inventory fields', 'SIGKILL during sync']));
  }, 180_000);

  it('what the full run found: a value with a line break is shown escaped in a one-line error, and create --out through a file or past NAME_MAX is a typed error (exit 8), the inventory unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-rel-'));
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, 'site:\n  nfsServer: 10.0.2.2\nimages:\n  t:\n    root: /srv/t\n    kver: 6.1.0-28-amd64\nguests:\nclients:\n');
    const before = readFileSync(inv, 'utf8');
    const nl = await xenroot(['-i', inv, 'client', 'add', '00:16:3e:00:00:09', '--image', 'line\nbreak']);
    expect(nl.code).toBe(3);
    expect(nl.stderr.split('\n')[0]).toBe('xenroot: image "line\\nbreak" is not in the inventory');
    writeFileSync(join(dir, 'afile'), 'x');
    for (const out of [join(dir, 'afile'), join(dir, 'x'.repeat(300))]) {
      const r = await xenroot(['-i', inv, 'create', 'g9', '--image', 't', '--out', out]);
      expect(r.code).toBe(8);
      expect(r.stderr, r.stderr).toMatch(/^xenroot: cannot write .*\((ENOTDIR|ENAMETOOLONG)\)$/);
      expect(r.stderr).not.toContain('internal error');
      expect(readFileSync(inv, 'utf8')).toBe(before);
    }
  }, 60_000);
});

