/**
 * `--root DIR` of the guest commands that write files (create, set, mac --set/--unpin, remove):
 * the guest's .cfg and .xml, its node switch, its host keys and the manifest go under DIR, as
 * DESTDIR does. The scratch inventory's guest directory is a system path (/etc/xen/xenroot), so a
 * write that misses DIR lands on this machine's and is caught by comparing before and after.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expectXenroot } from '../support/cli.js';
import { expectSitePathsUntouched, sitePaths } from '../support/site-paths.js';

const GUEST_DIR = '/etc/xen/xenroot';
let dir: string;
let root: string;
let env: Record<string, string>;

const x = (args: string[], code = 0) => expectXenroot(args, env, code);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-guestroot-'));
  root = join(dir, 'root');
  await mkdir(join(dir, 'img/boot'), { recursive: true });
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({ site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], guestDir: GUEST_DIR }, images: { terminal: { root: join(dir, 'img'), kver: '6.1.0-99-amd64' } }, guests: {}, clients: {} }),
  );
  env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('guest commands with --root DIR', () => {
  it('create, set, mac --set, mac --unpin and remove write and remove the guest files, host keys and manifest under DIR and nothing at the site paths', async () => {
    const before = sitePaths();
    const cfg = join(root, GUEST_DIR, 'g1.cfg');

    await x(['create', 'g1', '--image', 'terminal', '--root', root]);
    expect(await readFile(cfg, 'utf8')).toContain("name = 'g1'");
    expect(existsSync(join(root, GUEST_DIR, 'g1.xml'))).toBe(true);
    expect(existsSync(join(root, dir, 'state/host-keys'))).toBe(true);
    expect(existsSync(join(dir, 'state/host-keys'))).toBe(false);
    expect(existsSync(join(dir, 'state/sync'))).toBe(false);

    await x(['set', 'g1', '--hostname', 'desk1', '--root', root]);
    await x(['mac', 'g1', '--set', '00:16:3e:00:00:01', '--root', root]);
    expect(await readFile(cfg, 'utf8')).toContain('00:16:3e:00:00:01');
    await x(['mac', 'g1', '--unpin', '--root', root]);
    expect(await readFile(cfg, 'utf8')).not.toContain('00:16:3e:00:00:01');
    expectSitePathsUntouched(before);

    const removed = JSON.parse((await x(['--json', 'remove', 'g1', '--root', root])).stdout);
    expect(removed.removedFiles.length).toBeGreaterThan(0);
    expect(existsSync(cfg)).toBe(false);
    expect(existsSync(join(root, GUEST_DIR, 'g1.xml'))).toBe(false);
    expectSitePathsUntouched(before);
  });
});
