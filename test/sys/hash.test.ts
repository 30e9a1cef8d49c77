// sha256 of a file: one definition, streamed and synchronous, both equal to the digest of the bytes.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256File, sha256FileSync } from '../../src/sys/hash.js';

const dir = mkdtempSync(join(tmpdir(), 'xenroot-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sha256 of a file', () => {
  it('gives the digest of the bytes for a file larger than one read block, streamed and synchronous alike', async () => {
    const bytes = Buffer.alloc(3 * (1 << 20) + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
    const p = join(dir, 'big');
    writeFileSync(p, bytes);
    const want = createHash('sha256').update(bytes).digest('hex');
    expect(await sha256File(p)).toBe(want);
    expect(sha256FileSync(p)).toBe(want);
  });

  it('throws ENOENT for a missing file', async () => {
    await expect(sha256File(join(dir, 'none'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => sha256FileSync(join(dir, 'none'))).toThrow(/ENOENT/);
  });
});
