/**
 * Host keys belong to a node's identity, seen from the attacker's side: someone who gets a new
 * machine (or guest) added to the inventory under the name of a removed one must not boot with
 * the removed machine's private SSH host key (with it they could pose as that machine to every
 * admin whose known_hosts trusts it). A client's keys belong to its MAC, a guest's to its name
 * bound to its MAC; keys of the old layout (keyed by name alone) are not handed to anybody.
 * Real syncs through the CLI; the keys are read from what the new node receives: its identity
 * piece in the TFTP tree (a client) or the piece inside its ramdisk (a guest).
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { readCpio, writeCpio } from '../../src/initrd/cpio.js';
import { makeSite, KVER, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const TFTP = 'tftpboot/linux-install';
const KEY = 'xenroot/node/etc/ssh/ssh_host_ed25519_key';
const OLD_MAC = '52:54:00:13:00:08';
const NEW_MAC = '52:54:00:66:66:66';

let site: SyncSite | undefined;
afterEach(async () => {
  await site?.cleanup();
  site = undefined;
});

async function setup(over: Parameters<typeof makeSite>[0] = {}) {
  site = await makeSite(over);
  const s = site;
  const env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state') };
  const x = async (args: string[]) => {
    const r = await xenroot(args, { env });
    expect(r.code, `xenroot ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r;
  };
  return { s, env, x, sync: () => x(['sync', '--root', s.root]) };
}

/** The private host key in a gzip'd identity piece. */
function keyOf(gz: Buffer): string {
  const m = readCpio(gunzipSync(gz)).members.find((e) => e.type === 'file' && e.path === KEY);
  expect(m, 'the piece holds a private host key').toBeDefined();
  return m!.data!.toString('utf8');
}

/** The private key a client named `name` boots with: from its piece, as its TFTP server sends it. */
async function clientKey(s: SyncSite, name: string): Promise<string> {
  return keyOf(await readFile(join(s.root, TFTP, `identity/node-${name}.cpio.gz`)));
}

/** Every private key text under the state directory (what xenroot keeps to hand out later). */
async function keptKeys(s: SyncSite): Promise<string> {
  const dir = join(s.root, s.dir, 'state', 'host-keys');
  if (!existsSync(dir)) return '';
  let all = '';
  for (const inv of await readdir(dir)) for (const f of await readdir(join(dir, inv))) all += await readFile(join(dir, inv, f), 'utf8');
  return all;
}

describe('a new machine never inherits the host keys of a removed one', () => {
  it('a client added under a removed client\'s name, with another MAC, boots with keys of its own, and the old keys are gone', async () => {
    const { s, x, sync } = await setup();
    await x(['client', 'add', OLD_MAC, '--name', 'lab-08']);
    await sync();
    const stolen = await clientKey(s, 'lab-08');
    await x(['client', 'remove', 'lab-08']);
    await x(['client', 'add', NEW_MAC, '--name', 'lab-08']);
    await sync();
    const got = await clientKey(s, 'lab-08');
    expect(got).not.toBe(stolen);
    // Removed with the node: nothing xenroot keeps could hand the old key out again.
    expect(await keptKeys(s)).not.toContain(JSON.stringify(stolen).slice(1, -1));
  });

  it('the same when the admin replaces the client in the inventory by hand, with no sync in between', async () => {
    const { s, x, sync } = await setup();
    await x(['client', 'add', OLD_MAC, '--name', 'lab-08']);
    await sync();
    const stolen = await clientKey(s, 'lab-08');
    const text = await readFile(s.inventory, 'utf8');
    expect(text).toContain(OLD_MAC);
    await writeFile(s.inventory, text.replace(OLD_MAC, NEW_MAC));
    await sync();
    expect(await clientKey(s, 'lab-08')).not.toBe(stolen);
    expect(await keptKeys(s)).not.toContain(JSON.stringify(stolen).slice(1, -1));
  });

  it('a guest re-made under a removed guest\'s name with another MAC gets keys of its own; a guest keeps its keys when its MAC is first pinned', async () => {
    const { s, sync } = await setup();
    // An image initrd for guests, so that each guest gets its ramdisk (image initrd + its piece).
    const base = gzipSync(writeCpio([{ type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]));
    await writeFile(join(s.bootDir, 'terminal', `initrd-${KVER}-xen.img`), base);
    const ramdiskKey = async () => {
      const bytes = await readFile(join(s.root, s.bootDir, 'terminal/nodes/lab-09', `initrd-${KVER}-xen.img`));
      const at = 4 + base.length + ((4 - ((4 + base.length) % 4)) % 4);
      return keyOf(bytes.subarray(at));
    };
    const edit = async (from: string, to: string) => {
      const text = await readFile(s.inventory, 'utf8');
      expect(text).toContain(from);
      await writeFile(s.inventory, text.replace(from, to));
    };
    await mkdir(join(s.dir, 'guests'), { recursive: true });
    await edit('guests: {}', 'guests:\n  lab-09:\n    image: terminal\n');
    await sync();
    const first = await ramdiskKey();
    // Its first start pins the MAC it booted with: the same guest, the same keys.
    await edit('    image: terminal\n', `    image: terminal\n    mac: ${OLD_MAC}\n    macSource: first-boot\n`);
    await sync();
    expect(await ramdiskKey()).toBe(first);
    // Removed and made again under the same name with another MAC (one edit, no sync between).
    await edit(OLD_MAC, NEW_MAC);
    await sync();
    expect(await ramdiskKey()).not.toBe(first);
    expect(await keptKeys(s)).not.toContain(JSON.stringify(first).slice(1, -1));
  });

  it('keys of the old layout (kept by client name) are not handed to the client of that name, and are removed', async () => {
    const { s, x, sync } = await setup();
    await x(['client', 'add', NEW_MAC, '--name', 'lab-08']);
    await sync();
    // A key file as an older xenroot kept it: STATE/host-keys/INV/client-NAME.json.
    const dir = join(s.root, s.dir, 'state', 'host-keys');
    const [inv] = await readdir(dir);
    const old = join(dir, inv!, 'client-lab-08.json');
    const planted = '-----BEGIN OPENSSH PRIVATE KEY-----\nb2xkIG1hY2hpbmUncyBrZXk=\n-----END OPENSSH PRIVATE KEY-----\n';
    await writeFile(old, JSON.stringify({ node: 'client:lab-08', keys: [{ type: 'ed25519', private: planted, public: 'ssh-ed25519 AAAA root@lab-08\n' }] }), { mode: 0o600 });
    await x(['client', 'set', 'lab-08', '--append', 'quiet']);
    await sync();
    expect(await clientKey(s, 'lab-08')).not.toBe(planted);
    expect(existsSync(old)).toBe(false);
  });

  it('a client renamed keeps its keys: they belong to the machine (its MAC), not to the name', async () => {
    const { s, x, sync } = await setup();
    await x(['client', 'add', OLD_MAC, '--name', 'lab-08']);
    await sync();
    const before = await clientKey(s, 'lab-08');
    const text = await readFile(s.inventory, 'utf8');
    await writeFile(s.inventory, text.replace('lab-08:', 'lab-18:'));
    await sync();
    expect(await clientKey(s, 'lab-18')).toBe(before);
  });
});
