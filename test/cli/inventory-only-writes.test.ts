/**
 * The commands that change only the inventory (init, image add, client add/set/remove, group
 * add/set) write no generated file: their files follow at the next `xenroot sync` (which takes
 * --root DIR), so they need no --root of their own (on client and group `--root` is the NFS root
 * override). Proved on a scratch inventory whose site paths are the system defaults: nothing at
 * those paths is created or changed.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';
import { expectSitePathsUntouched, sitePaths } from '../support/site-paths.js';

let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-invonly-'));
  await mkdir(join(dir, 'img/boot'), { recursive: true });
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_STATE_DIR: join(dir, 'state') };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('init, image add, client add/set/remove and group add/set change the inventory and write nothing at the site paths', async () => {
  const before = sitePaths();
  const steps = [
    ['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24'],
    ['image', 'add', 'terminal', '--root', join(dir, 'img'), '--kver', '6.1.0-99-amd64'],
    ['group', 'add', 'lab', '--image', 'terminal'],
    ['group', 'set', 'lab', '--append', 'quiet'],
    ['client', 'add', '52:54:00:00:00:01', '--name', 'pc1', '--group', 'lab'],
    ['client', 'set', 'pc1', '--root', `10.0.2.2:${join(dir, 'img')}`],
    ['client', 'add', '52:54:00:00:00:02', '--name', 'pc2', '--group', 'lab'],
    ['client', 'remove', 'pc2'],
  ];
  for (const args of steps) {
    const r = await xenroot(args, { env });
    expect(r.code, `xenroot ${args.join(' ')}\n${r.stderr}`).toBe(0);
  }
  expectSitePathsUntouched(before);
  const inv = await readFile(env.XENROOT_INVENTORY!, 'utf8');
  expect(inv).toContain('pc1');
  expect(inv).toContain(`10.0.2.2:${join(dir, 'img')}`);
  expect(inv).not.toContain('pc2');
});
