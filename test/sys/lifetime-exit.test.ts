// Every exit hook goes through the lifetime registry: a temp dir adds no exit listener of its own,
// and the registry's exit sweep still removes a temp dir that was made again after its entry ran.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('process exit hooks', () => {
  it('a temp dir and a cleanup entry share the registry\'s one exit listener, and a dir made again after removal is gone at exit', async () => {
    const script = `
      import { mkdirSync } from 'node:fs';
      import { makeTempDir } from ${JSON.stringify(join(root, 'src/sys/tmp.ts'))};
      import { onCleanup } from ${JSON.stringify(join(root, 'src/sys/lifetime.ts'))};
      const before = process.listenerCount('exit');
      const t = await makeTempDir('xenroot-exit-test-', ${JSON.stringify(tmpdir())});
      onCleanup('nothing', () => {});
      await t.remove();
      mkdirSync(t.path);           // a step still in flight makes it again
      console.log(JSON.stringify({ added: process.listenerCount('exit') - before, path: t.path }));
    `;
    const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root });
    const out = JSON.parse(r.stdout) as { added: number; path: string };
    expect(out.added).toBe(1);
    expect(existsSync(out.path)).toBe(false);
  });
});
