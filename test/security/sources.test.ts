/**
 * From the attacker's side: a user who can write the directory of a file the admin named with
 * `--file DEST=SOURCE` swaps the source for a symlink to another node's private host key in
 * xenroot's state (or a FIFO, a device, a symlinked directory), hoping root's next sync copies it
 * into a node's identity piece. Sources are opened without following links, regular files only,
 * never from the state directory: at entry (exit 3) and again when sync reads them.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCpio } from '../../src/initrd/cpio.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

let s: SyncSite;
let env: Record<string, string>;
let state: string;
let drop: string;

/** The bytes of every member of pc2's identity piece, joined: where a leaked key would show. */
async function pc2Piece(): Promise<string> {
  const data = await readFile(join(s.root, 'tftpboot/linux-install/identity/node-pc2.cpio.gz'));
  return readCpio(gunzipSync(data)).members.map((m) => m.data?.toString('utf8') ?? '').join('\n');
}

/** The victim's host key file sync made (its state sits under --root) and a line of its private key. */
async function aPrivateKey(): Promise<{ file: string; secret: string }> {
  for (const e of await readdir(s.dir, { withFileTypes: true, recursive: true })) {
    if (e.name !== 'mac-52-54-00-14-00-01.json') continue; // the victim's keys are kept under its MAC
    const file = join(e.parentPath, e.name);
    const keys = (JSON.parse(await readFile(file, 'utf8')) as { keys: { private: string }[] }).keys;
    return { file, secret: keys[0]!.private.split('\n')[3]! };
  }
  throw new Error('no host key of the victim');
}

beforeAll(async () => {
  s = await makeSite();
  state = join(s.dir, 'state');
  drop = join(s.dir, 'drop'); // the directory another user can write
  await mkdir(drop);
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: state };
  await writeFile(join(drop, 'motd'), 'welcome\n');
  expect((await xenroot(['client', 'add', '52:54:00:14:00:01', '--name', 'victim'], { env })).code).toBe(0);
  const add = await xenroot(['client', 'add', '52:54:00:14:00:02', '--name', 'pc2', '--file', `/etc/motd=${join(drop, 'motd')}`], { env });
  expect(add.code, add.stderr).toBe(0);
  const first = await xenroot(['sync', '--root', s.root], { env });
  expect(first.code, first.stderr).toBe(0);
});
afterAll(async () => {
  await s?.cleanup();
});

describe('a source swapped for a symlink after entry', () => {
  it('sync refuses the symlink to another node\'s host key, names it, and no file it writes holds the key', async () => {
    const { file, secret } = await aPrivateKey();
    await rm(join(drop, 'motd'));
    await symlink(file, join(drop, 'motd'));
    const r = await xenroot(['sync', '--root', s.root], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(join(drop, 'motd'));
    expect(r.stderr).toMatch(/symlink/);
    expect(await pc2Piece()).not.toContain(secret);
    await rm(join(drop, 'motd'));
    await writeFile(join(drop, 'motd'), 'welcome\n');
  });

  it('sync refuses a source whose directory was swapped for a symlink into the state directory', async () => {
    const { file, secret } = await aPrivateKey();
    await rename(drop, `${drop}.old`);
    await symlink(join(file, '..'), drop);
    await rename(file, join(file, '..', 'motd')).catch(() => undefined);
    const r = await xenroot(['sync', '--root', s.root], { env });
    await rename(join(file, '..', 'motd'), file).catch(() => undefined);
    await rm(drop);
    await rename(`${drop}.old`, drop);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(join(drop, 'motd'));
    expect(await pc2Piece()).not.toContain(secret);
  });
});

describe('hostile sources at entry: exit 3 naming the path, nothing written', () => {
  const cases: [string, () => Promise<string>, RegExp][] = [
    ['a symlink to a root-only file', async () => (await symlink('/etc/shadow', join(drop, 'link')), join(drop, 'link')), /symlink/],
    ['a FIFO (a read would hang)', async () => (execFileSync('mkfifo', [join(drop, 'fifo')]), join(drop, 'fifo')), /FIFO/],
    ['a device', async () => '/dev/zero', /device/],
    ['a directory', async () => drop, /directory/],
    ['a file inside xenroot\'s state directory', async () => (await mkdir(join(state, 'host-keys'), { recursive: true }), await writeFile(join(state, 'host-keys', 'k.json'), 'secret\n'), join(state, 'host-keys', 'k.json')), /state directory/],
    ['a file under a symlinked directory', async () => (await symlink(drop, join(s.dir, 'via')), join(s.dir, 'via', 'motd')), /symlinked directory/],
  ];
  for (const [what, make, why] of cases)
    it(`refuses ${what}`, async () => {
      const source = await make();
      const before = await readFile(s.inventory, 'utf8');
      const r = await xenroot(['client', 'set', 'pc2', '--file', `/etc/issue=${source}`], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toContain(source);
      expect(r.stderr).toMatch(why);
      expect(await readFile(s.inventory, 'utf8')).toBe(before);
    });

  it('group set --file refuses a symlink the same way', async () => {
    expect((await xenroot(['group', 'add', 'lab', '--image', 'terminal'], { env })).code).toBe(0);
    await symlink('/etc/shadow', join(drop, 'glink'));
    const r = await xenroot(['group', 'set', 'lab', '--file', `/etc/issue=${join(drop, 'glink')}`], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(drop, 'glink'));
  });
});
