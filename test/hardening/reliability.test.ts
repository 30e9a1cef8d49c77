// A slice of bench/reliability.mjs (issue 16): one hostile value per flag of every writing
// command and per string field of a hand-edited inventory, one SIGKILL during sync, and ENOSPC
// (a 1 MiB tmpfs) and EROFS (a read-only bind mount) for every writing command when run as root.
// Every case must be handled: success with inert output, or a one-line error without a stack
// trace or "internal error", the inventory unchanged and valid. The full run is the bench.
import { execFileSync } from 'node:child_process';
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
});
