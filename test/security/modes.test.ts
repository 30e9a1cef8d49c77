/**
 * From the attacker's side: a local unprivileged user (uid 65534 here, through setpriv) tries to
 * read a per-node secret that the admin wrote inline into a 0600 inventory, through what xenroot
 * writes beside it: the model cache (state/model/*.json), its hard link under state/sync/, the
 * state directory itself; and the inventory `init` creates. Every attempt must be refused.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const SECRET = 'wifi-psk-4f1c9a77e2';
let dir: string;
let site: SyncSite | undefined;

/** Whether user 65534 (no groups) can read `file`: a real open by another process. */
async function nobodyReads(file: string): Promise<boolean> {
  return promisify(execFile)('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', file]).then(
    () => true,
    () => false,
  );
}

/** Every file under `d`, recursively. */
async function filesUnder(d: string): Promise<string[]> {
  return (await readdir(d, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-modes-'));
  // Like /var/lib and /etc: the parents are open to everyone, only the files can keep a secret.
  await chmod(dir, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await site?.cleanup();
});

describe('the inventory init creates', () => {
  it('is 0600: another local user cannot read it', async () => {
    const inventory = join(dir, 'a', 'inventory.yaml');
    const r = await xenroot(['init', '--nfs-server', '10.0.2.2'], { env: { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'a-state') } });
    expect(r.code, r.stderr).toBe(0);
    await chmod(join(dir, 'a'), 0o755);
    expect((await stat(inventory)).mode & 0o777).toBe(0o600);
    expect(await nobodyReads(inventory)).toBe(false);
  });

  it('is 0640 with the group the site names (--group), and keeps both across a save', async () => {
    const inventory = join(dir, 'b', 'inventory.yaml');
    const env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'b-state') };
    const r = await xenroot(['init', '--nfs-server', '10.0.2.2', '--group', 'daemon'], { env });
    expect(r.code, r.stderr).toBe(0);
    const st = await stat(inventory);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.gid).toBe(1); // daemon in Debian's base-passwd
    await writeFile(join(dir, 'b', 'img'), '');
    expect((await xenroot(['image', 'add', 'terminal', '--root', join(dir, 'b'), '--kver', '6.1.0-99-amd64'], { env })).code).toBe(0);
    const after = await stat(inventory);
    expect([after.mode & 0o777, after.gid]).toEqual([0o640, 1]);
  });

  it('refuses a group that does not exist, naming it, and writes nothing', async () => {
    const inventory = join(dir, 'c', 'inventory.yaml');
    const r = await xenroot(['init', '--nfs-server', '10.0.2.2', '--group', 'no-such-group-x'], { env: { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'c-state') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-such-group-x');
    await expect(stat(inventory)).rejects.toThrow();
  });
});

describe('caches of a 0600 inventory with an inline per-node secret', () => {
  let state: string;
  let root: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    site = await makeSite({ clients: { pc1: { mac: '52:54:00:15:00:01', image: 'terminal', files: { '/etc/wpa.conf': { content: `psk=${SECRET}`, mode: '0600' } } } } });
    await chmod(site.dir, 0o755);
    await chmod(site.inventory, 0o600);
    state = join(dir, 'state');
    const inventory = site.inventory;
    env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: state };
    const r = await xenroot(['client', 'set', 'pc1', '--append', 'quiet'], { env });
    expect(r.code, r.stderr).toBe(0);
    root = site!.root;
    const s = await xenroot(['sync', '--root', root], { env });
    expect(s.code, s.stderr).toBe(0);
  });

  it('the state directories (here and under sync --root) are 0700 and no cache or snapshot of the model is readable by another user', async () => {
    const states = [state, join(root, state)];
    for (const d of states) expect((await stat(d)).mode & 0o777, d).toBe(0o700);
    // Even with the directories opened again by a careless hand, the files themselves stay closed.
    const files: string[] = [];
    for (const d of states) {
      for (const e of await readdir(d, { withFileTypes: true, recursive: true })) if (e.isDirectory()) await chmod(join(e.parentPath, e.name), 0o755);
      await chmod(d, 0o755);
      files.push(...(await filesUnder(d)));
    }
    expect(files.some((f) => f.includes('/model/'))).toBe(true);
    expect(files.some((f) => f.endsWith('.model.json'))).toBe(true);
    for (const f of files) if (f.includes('/model/') || f.includes('.model.json') || f.includes('host-keys')) expect(await nobodyReads(f), f).toBe(false);
  });

  it('a state directory found open (0755) is tightened to 0700 with a warning', async () => {
    await chmod(state, 0o755);
    const r = await xenroot(['client', 'set', 'pc1', '--append', 'quiet splash'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    expect(r.stderr).toMatch(/state directory .* tightened to 0700/);
  });
});
