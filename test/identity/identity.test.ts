/**
 * Per-node identity without a per-node export: the CLI sets host name, address and files; sync
 * writes a small per-node cpio (identity/node-NAME.cpio.gz, mode 0600) that pxelinux, iPXE and GRUB
 * load after the image's initrd; host keys are made once into the state directory and reused; a
 * guest's ramdisk is NULx4 + the image initrd + NUL padding + its piece, which the kernel's
 * initramfs buffer format reads as both archives. The rules between nodes and the site refuse
 * what would not mean what it says.
 */
import { mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCpio, writeCpio } from '../../src/initrd/cpio.js';
import { InventorySchema } from '../../src/inventory/schema.js';
import { defaultHostname } from '../../src/inventory/validate.js';
import { sync } from '../../src/ops/sync.js';
import { makeSite, KVER, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const TFTP = 'tftpboot/linux-install';
let s: SyncSite;
let env: Record<string, string>;
let state: string;

/** The members of a gzip'd newc archive, by path. */
function members(gz: Buffer): Map<string, { mode: number; data: string }> {
  const out = new Map<string, { mode: number; data: string }>();
  for (const m of readCpio(gunzipSync(gz)).members) if (m.type === 'file') out.set(m.path, { mode: m.mode, data: m.data!.toString('utf8') });
  return out;
}

beforeAll(async () => {
  s = await makeSite();
  state = join(s.dir, 'state');
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: state };
  await writeFile(join(s.dir, 'motd'), 'welcome to pc1\n');
  const add = await xenroot(['client', 'add', '52:54:00:13:00:01', '--name', 'pc1', '--file', '/etc/motd=./motd', '--address', '10.0.2.51/24', '--gateway', '10.0.2.2'], { env, cwd: s.dir });
  expect(add.code, add.stderr).toBe(0);
  const add2 = await xenroot(['client', 'add', '52:54:00:13:00:02', '--name', 'odd_name'], { env });
  expect(add2.code, add2.stderr).toBe(0);
});
afterAll(async () => {
  await s?.cleanup();
});

describe('client identity through sync', () => {
  it('the CLI stores --file with an absolute source and --address as given', async () => {
    const inv = await readFile(s.inventory, 'utf8');
    expect(inv).toContain(`source: ${join(s.dir, 'motd')}`);
    expect(inv).toContain('address: 10.0.2.51/24');
  });

  it('writes identity/node-NAME.cpio.gz (0600) with host name, node.conf, host keys and the file; every loader loads it after the image initrd', async () => {
    const r = await xenroot(['sync', '--root', s.root], { env });
    expect(r.code, r.stderr).toBe(0);
    const piece = join(s.root, TFTP, 'identity/node-pc1.cpio.gz');
    expect((await stat(piece)).mode & 0o777).toBe(0o600);
    const m = members(await readFile(piece));
    expect(m.get('xenroot/node/etc/hostname')?.data).toBe('pc1\n');
    expect(m.get('xenroot/node/etc/motd')?.data).toBe('welcome to pc1\n');
    expect(m.get('xenroot/node/etc/xenroot/node.conf')?.data).toContain("NODE_ADDRESS='10.0.2.51'\nNODE_PREFIX='24'\nNODE_GATEWAY='10.0.2.2'");
    expect(m.get('xenroot/node/etc/xenroot/node.conf')?.data).toContain("NODE_MAC='52:54:00:13:00:01'");
    expect(m.get('xenroot/node/etc/ssh/ssh_host_ed25519_key')?.mode).toBe(0o600);
    expect(m.get('xenroot/node/etc/ssh/ssh_host_ed25519_key.pub')?.data).toMatch(/^ssh-ed25519 \S+ root@pc1\n$/);
    // The hooks that hand it to dracut and initramfs-tools images.
    expect(m.has('lib/dracut/hooks/pre-pivot/90-xenroot-node.sh')).toBe(true);
    expect(m.has('conf/conf.d/zz-xenroot-node')).toBe(true);
    expect(m.get('scripts/init-bottom/xenroot-node')?.mode).toBe(0o755);
    // No entry for lib/ or below: it would replace dracut's lib -> usr/lib symlink (the kernel
    // replaces an existing entry of another type), and dracut would lose its modules and scripts.
    const all = readCpio(gunzipSync(await readFile(piece))).members.map((x) => x.path);
    expect(all.filter((p) => p === 'lib' || (p.startsWith('lib/') && !p.endsWith('.sh')))).toEqual([]);
    const pxe = await readFile(join(s.root, TFTP, 'pxelinux.cfg/01-52-54-00-13-00-01'), 'utf8');
    expect(pxe).toMatch(/APPEND initrd=images\/terminal\/initrd-\S+\.img,identity\/node-pc1\.cpio\.gz /);
    // Through the node's switch (issue 12): its entry is its own, since it names its own piece.
    const ipxe = await readFile(join(s.root, TFTP, 'nodes/52-54-00-13-00-01/ipxe'), 'utf8');
    expect(await readlink(join(s.root, TFTP, 'nodes/52-54-00-13-00-01'))).not.toBe(await readlink(join(s.root, TFTP, 'nodes/52-54-00-13-00-02')));
    expect(ipxe).toMatch(/initrd=node-pc1\.cpio\.gz .* BOOTIF=01-52-54-00-13-00-01\n/);
    expect(ipxe).toContain('initrd /identity/node-pc1.cpio.gz\n');
    // A name that is no host name gets one made of it.
    expect(members(await readFile(join(s.root, TFTP, 'identity/node-odd_name.cpio.gz'))).get('xenroot/node/etc/hostname')?.data).toBe('odd-name\n');
    const dns = await readFile(join(s.root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8');
    expect(dns).toContain('dhcp-host=52:54:00:13:00:01,10.0.2.51,pc1\n');
    expect(dns).toContain('dhcp-host=52:54:00:13:00:02,odd-name\n');
  });

  it('the private key is one the real ssh-keygen reads; keys live in the state dir (0600 file, 0700 dirs) and are the same at the next sync', async () => {
    const keysDir = join(s.root, state, 'host-keys');
    const [inv] = readdirSync(keysDir);
    expect(statSync(join(keysDir)).mode & 0o777).toBe(0o700);
    expect(statSync(join(keysDir, inv!)).mode & 0o777).toBe(0o700);
    const file = join(keysDir, inv!, 'mac-52-54-00-13-00-01.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const before = await readFile(join(s.root, TFTP, 'identity/node-pc1.cpio.gz'));
    const key = members(before).get('xenroot/node/etc/ssh/ssh_host_ed25519_key')!.data;
    const tmp = await mkdtemp(join(tmpdir(), 'xenroot-key-'));
    await writeFile(join(tmp, 'k'), key, { mode: 0o600 });
    const pub = await execa('ssh-keygen', ['-y', '-f', join(tmp, 'k')]);
    expect(members(before).get('xenroot/node/etc/ssh/ssh_host_ed25519_key.pub')!.data.startsWith(pub.stdout.trim())).toBe(true);
    await rm(tmp, { recursive: true, force: true });
    // A change of another node: this node's piece is not rewritten, and stays the same.
    await xenroot(['client', 'set', 'odd_name', '--append', 'quiet'], { env });
    const r = JSON.parse((await xenroot(['--json', 'sync', '--root', s.root], { env })).stdout) as { changes: { path: string }[] };
    expect(r.changes.length).toBeGreaterThan(0);
    expect(r.changes.map((c) => c.path)).not.toContain(`/${TFTP}/identity/node-pc1.cpio.gz`);
    expect(await readFile(join(s.root, TFTP, 'identity/node-pc1.cpio.gz'))).toEqual(before);
  });

  it('a new file content is a new piece; removing the client removes its piece and its host keys', async () => {
    await writeFile(join(s.dir, 'motd'), 'new motd\n');
    expect((await xenroot(['sync', '--root', s.root], { env })).code).toBe(0);
    expect(members(await readFile(join(s.root, TFTP, 'identity/node-pc1.cpio.gz'))).get('xenroot/node/etc/motd')?.data).toBe('new motd\n');
    expect((await xenroot(['client', 'remove', 'pc1'], { env })).code).toBe(0);
    expect((await xenroot(['sync', '--root', s.root], { env })).code).toBe(0);
    expect(existsSync(join(s.root, TFTP, 'identity/node-pc1.cpio.gz'))).toBe(false);
    const keysDir = join(s.root, state, 'host-keys');
    expect(readdirSync(join(keysDir, readdirSync(keysDir)[0]!))).toEqual(['mac-52-54-00-13-00-02.json']);
  });

  it('the hooks for initramfs-tools and dracut images are shell both shells accept (dash, busybox sh)', async () => {
    const m = members(await readFile(join(s.root, TFTP, 'identity/node-odd_name.cpio.gz')));
    for (const hook of ['conf/conf.d/zz-xenroot-node', 'scripts/init-bottom/xenroot-node', 'lib/dracut/hooks/pre-pivot/90-xenroot-node.sh', 'xenroot/node/etc/xenroot/node.conf']) {
      const f = join(s.dir, 'hook.sh');
      await writeFile(f, m.get(hook)!.data);
      for (const sh of [['dash'], ['busybox', 'sh']]) {
        const r = await execa(sh[0]!, [...sh.slice(1), '-n', f], { reject: false, all: true });
        expect(r.exitCode, `${sh.join(' ')} -n ${hook}: ${String(r.all)}`).toBe(0);
      }
    }
  });

  it('a group\'s files reach every member\'s piece; a member\'s own file of the same path wins; group set --file DEST= removes one', async () => {
    await writeFile(join(s.dir, 'issue'), 'lab issue\n');
    await writeFile(join(s.dir, 'own-issue'), 'own issue\n');
    expect((await xenroot(['group', 'add', 'lab', '--image', 'terminal', '--file', '/etc/issue=./issue', '--file', '/etc/lab=./issue'], { env, cwd: s.dir })).code).toBe(0);
    expect((await xenroot(['client', 'add', '52:54:00:13:00:07', '--name', 'lab1', '--group', 'lab'], { env })).code).toBe(0);
    expect((await xenroot(['client', 'add', '52:54:00:13:00:08', '--name', 'lab2', '--group', 'lab', '--file', '/etc/issue=./own-issue'], { env, cwd: s.dir })).code).toBe(0);
    expect((await xenroot(['sync', '--root', s.root], { env })).code).toBe(0);
    const piece = async (n: string) => members(await readFile(join(s.root, TFTP, `identity/node-${n}.cpio.gz`)));
    expect((await piece('lab1')).get('xenroot/node/etc/issue')?.data).toBe('lab issue\n');
    expect((await piece('lab2')).get('xenroot/node/etc/issue')?.data).toBe('own issue\n');
    expect((await piece('lab2')).get('xenroot/node/etc/lab')?.data).toBe('lab issue\n');
    expect((await xenroot(['group', 'set', 'lab', '--file', '/etc/lab='], { env })).code).toBe(0);
    expect((await xenroot(['sync', '--root', s.root], { env })).code).toBe(0);
    expect((await piece('lab1')).has('xenroot/node/etc/lab')).toBe(false);
    // The same path rules as a node's own files.
    const bad = await xenroot(['group', 'set', 'lab', '--file', '/etc/hostname=./issue'], { env, cwd: s.dir });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/is written by xenroot from the node's identity/);
  });

  it('a dry run makes no host keys', async () => {
    const t = await makeSite({ clients: { a: { mac: '52:54:00:13:00:09', image: 'terminal' } } });
    try {
      await sync(t.inventory, { root: t.root, dryRun: true });
      expect(existsSync(join(t.root, process.env.XENROOT_STATE_DIR!, 'host-keys'))).toBe(false);
    } finally {
      await t.cleanup();
    }
  });
});

describe('a guest\'s one ramdisk', () => {
  it('is 4 NULs + the image initrd + NULs to a multiple of 4 + the guest\'s piece, beside the image initrd; its .cfg names it', async () => {
    const t = await makeSite();
    try {
      const e = { XENROOT_INVENTORY: t.inventory, XENROOT_STATE_DIR: join(t.dir, 'state') };
      // An image initrd of 1023 bytes: the piece must start at an offset the kernel accepts.
      const base = gzipSync(writeCpio([{ type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 }]));
      const odd = Buffer.concat([base, Buffer.alloc(3)]);
      await writeFile(join(t.bootDir, 'terminal', `initrd-${KVER}-xen.img`), odd);
      await writeFile(join(t.dir, 'f'), 'guest file\n');
      const c = await xenroot(['create', 'Terminal', '--image', 'terminal', '--file', `/etc/guest=${join(t.dir, 'f')}`], { env: e });
      expect(c.code, c.stderr).toBe(0);
      const ramdisk = join(t.bootDir, 'terminal/nodes/Terminal', `initrd-${KVER}-xen.img`);
      expect(await readFile(join(t.dir, 'guests/Terminal.cfg'), 'utf8')).toContain(`ramdisk = '${ramdisk}'`);
      const bytes = await readFile(ramdisk);
      expect((await stat(ramdisk)).mode & 0o777).toBe(0o600);
      expect(bytes.subarray(0, 4)).toEqual(Buffer.alloc(4));
      expect(bytes.subarray(4, 4 + odd.length)).toEqual(odd);
      const pieceAt = 4 + odd.length + ((4 - ((4 + odd.length) % 4)) % 4);
      expect(pieceAt % 4).toBe(0);
      expect(bytes.subarray(4 + odd.length, pieceAt)).toEqual(Buffer.alloc(pieceAt - 4 - odd.length));
      const m = members(bytes.subarray(pieceAt));
      expect(m.get('xenroot/node/etc/hostname')?.data).toBe('Terminal\n');
      expect(m.get('xenroot/node/etc/guest')?.data).toBe('guest file\n');
      // The first bytes are no gzip magic: Xen <= 4.19's libxenguest passes it through unchanged.
      expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(false);
      // `xenroot set` changes the file and rewrites the ramdisk.
      const set = await xenroot(['--json', 'set', 'Terminal', '--hostname', 'term-1'], { env: e });
      expect(set.code, set.stderr).toBe(0);
      expect(JSON.parse(set.stdout).written).toContain(ramdisk);
    } finally {
      await t.cleanup();
    }
  });
});

describe('rules between nodes and the site', () => {
  const parse = (over: Record<string, unknown>, site: Record<string, unknown> = {}) => {
    const r = InventorySchema.safeParse({ site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], ...site }, images: { t: { root: '/srv/t' } }, guests: {}, clients: over });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  const c = (extra: Record<string, unknown>, mac = '52:54:00:00:00:01') => ({ mac, image: 't', ...extra });

  it('one address per node, inside site.allow, with a gateway inside its network', () => {
    expect(parse({ a: c({ address: '10.0.2.5/24' }), b: c({ address: '10.0.2.5' }, '52:54:00:00:00:02') })).toEqual(['clients.b.address: 10.0.2.5 is already the address of client a']);
    expect(parse({ a: c({ address: '10.9.0.5/24' }) })).toEqual(['clients.a.address: 10.9.0.5 is in none of site.allow (10.0.2.0/24): the exports would refuse this node its root']);
    expect(parse({ a: c({ address: '10.0.2.5/24', gateway: '10.0.3.1' }) })).toEqual(['clients.a.gateway: 10.0.3.1 is outside the node\'s network 10.0.2.5/24']);
    expect(parse({ a: c({ gateway: '10.0.2.1' }) })).toEqual(['clients.a.gateway: is set without an address']);
  });

  it('an address without a prefix is refused where no DHCP reservation hands it out', () => {
    expect(parse({ a: c({ address: '10.0.2.5' }) })).toEqual([]);
    expect(parse({ a: c({ address: '10.0.2.5' }) }, { dhcp: { server: 'none' } })[0]).toMatch(/clients\.a\.address: needs its prefix length/);
    expect(parse({ a: c({ address: '10.0.2.5' }) }, { dhcp: { server: 'none', subnet: '10.0.2.0/24' } })).toEqual([]);
  });

  it('per-node files may not replace what xenroot writes; paths and modes are checked', () => {
    expect(parse({ a: c({ files: { '/etc/hostname': 'x' } }) })).toEqual(['clients.a.files./etc/hostname: is written by xenroot from the node\'s identity (set hostname instead); a per-node file may not replace it']);
    expect(parse({ a: c({ files: { '/proc/x': 'x' } }) })[0]).toMatch(/kernel provides/);
    expect(parse({ a: c({ files: { 'etc/x': 'x' } }) })[0]).toMatch(/absolute path/);
    expect(parse({ a: c({ files: { '/etc/x': { content: 'x', mode: 600 } } }) })[0]).toMatch(/with an optional mode: "0600"/);
    expect(parse({ a: c({ files: { '/etc/x': { content: 'x', source: '/y' } } }) })[0]).toMatch(/takes content \(the text\) or source \(a file\), one of them/);
    expect(parse({ a: c({ files: { '/etc/x': { content: 'x', mode: '0600' } }, hostname: 'pc-1.lab.example' }) })).toEqual([]);
    expect(parse({ a: c({ hostname: 'bad_name' }) })[0]).toMatch(/clients\.a\.hostname: must be a host name/);
  });

  it('a node name that is no host name gets one made of it', () => {
    expect(defaultHostname('odd_name')).toBe('odd-name');
    expect(defaultHostname('Terminal')).toBe('Terminal');
    expect(defaultHostname('-x_')).toBe('x');
  });
});
