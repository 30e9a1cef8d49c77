import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sync } from '../../src/ops/sync.js';
import { addClient, removeClient, setClient } from '../../src/ops/clients.js';
import { updateInventory } from '../../src/ops/steps/store.js';
import { DependencyError, DeployError } from '../../src/sys/errors.js';
import { sha256File } from '../../src/sys/hash.js';
import { makeSite, snapshot, KVER, type SyncSite } from './fixture.js';
import { xenroot } from '../support/cli.js';

const TFTP = 'tftpboot/linux-install';
const sites: SyncSite[] = [];
async function site(over: Parameters<typeof makeSite>[0] = {}) {
  const s = await makeSite(over);
  sites.push(s);
  return s;
}
afterAll(async () => {
  for (const s of sites) await s.cleanup();
});

const FOREIGN_EXPORTS = '# the admin\'s own exports\n/home 192.168.0.0/16(rw,sync)\n\n/srv/data   *(ro)  # keep me\n';
const FOREIGN_DNSMASQ = 'interface=eth1\ndhcp-range=10.0.2.50,10.0.2.150,12h\n# admin comment\n';

describe('xenroot sync --root', () => {
  let s: SyncSite;
  beforeAll(async () => {
    s = await site({
      clients: {
        upper: { mac: '00:16:3E:AA:00:01', image: 'terminal', append: 'console=ttyS0' },
        dashed: { mac: '00-16-3e-aa-00-02', image: 'terminal' },
        mixed: { mac: '00-16-3E-aA-00-03', image: 'terminal', root: '10.0.2.9:/srv/own' },
      },
      guests: { Terminal: { image: 'terminal', mac: '00:16:3e:11:22:33', macSource: 'given' }, Unpinned: { image: 'terminal' } },
    });
  });

  it('writes the whole tree from empty: one pxelinux file and one switch link per client, versioned kernel and initrd', async () => {
    const r = await sync(s.inventory, { root: s.root });
    expect(r.counts.updated + r.counts.removed + r.counts.unchanged).toBe(0);
    const cfg = await readdir(join(s.root, TFTP, 'pxelinux.cfg'));
    expect(cfg.sort()).toEqual(['01-00-16-3e-aa-00-01', '01-00-16-3e-aa-00-02', '01-00-16-3e-aa-00-03', 'default']);
    expect((await readdir(join(s.root, TFTP, 'ipxe'))).sort()).toEqual(['boot.ipxe', 'default.ipxe']);
    const boot = await readFile(join(s.root, TFTP, 'ipxe/boot.ipxe'), 'utf8');
    expect(boot).toContain('chain --autofree /nodes/${netX/mac:hexhyp}/ipxe || chain --autofree /ipxe/default.ipxe');
    // Each client's switch link names its boot entry; the entry holds its pxelinux and iPXE files.
    expect(await readFile(join(s.root, TFTP, 'nodes/00-16-3e-aa-00-03/ipxe'), 'utf8')).toMatch(/\nkernel \/images\/terminal\/vmlinuz-\S+ initrd=\S+ initrd=node-mixed\.cpio\.gz root=nfs4:10\.0\.2\.9:\/srv\/own /);
    // Each client's entry is its own (it loads the client's identity piece, issue 13).
    expect(new Set(await Promise.all(['01', '02', '03'].map((n) => readlink(join(s.root, TFTP, `nodes/00-16-3e-aa-00-${n}`))))).size).toBe(3);
    expect(await sha256File(join(s.root, TFTP, 'pxelinux.0'))).toBe(await sha256File('/usr/lib/PXELINUX/pxelinux.0'));
    expect(existsSync(join(s.root, TFTP, 'ldlinux.c32'))).toBe(true);
    const images = await readdir(join(s.root, TFTP, 'images/terminal'));
    expect(images.sort()).toEqual([expect.stringMatching(new RegExp(`^initrd-${KVER}-pxe-[0-9a-f]{12}\\.img$`)), expect.stringMatching(new RegExp(`^vmlinuz-${KVER}-[0-9a-f]{12}$`))]);
    const upper = await readFile(join(s.root, TFTP, 'pxelinux.cfg/01-00-16-3e-aa-00-01'), 'utf8');
    expect(upper).toMatch(/APPEND initrd=images\/terminal\/initrd-\S+ root=nfs4:10\.0\.2\.2:\S+\/img ro ip=dhcp console=ttyS0,115200 console=tty0 selinux=0 console=ttyS0\n  IPAPPEND 2/);
    expect(await readFile(join(s.root, TFTP, 'pxelinux.cfg/01-00-16-3e-aa-00-03'), 'utf8')).toContain('root=nfs4:10.0.2.9:/srv/own ');
    const dnsmasq = await readFile(join(s.root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8');
    expect(dnsmasq).toContain('dhcp-host=00:16:3e:11:22:33,Terminal');
    expect(dnsmasq).toContain('dhcp-host=00:16:3e:aa:00:02,dashed');
    expect(dnsmasq).not.toContain('Unpinned');
    expect(existsSync(join(s.root, s.dir, 'guests/Terminal.cfg'))).toBe(true);
    expect(existsSync(join(s.root, s.dir, 'guests/Unpinned.xml'))).toBe(true);
    // No /etc/exports.d under the root: a managed block in /etc/exports.
    expect(await readFile(join(s.root, 'etc/exports'), 'utf8')).toMatch(/# BEGIN xenroot[^\n]*\n# image terminal\n\S+\/img 10\.0\.2\.0\/24\(ro,no_root_squash,no_subtree_check\)\n# END xenroot/);
  });

  it('a second sync in a row writes nothing (same inodes, mtimes and ctimes) and says so', async () => {
    const before = await snapshot(s.root);
    const r = await sync(s.inventory, { root: s.root });
    expect(r.changes).toEqual([]);
    // Every file under the root but xenroot's state (the manifest, the nodes' host keys) is a generated one.
    const state = process.env.XENROOT_STATE_DIR!.replace(/^\/+/, '');
    expect(r.counts).toEqual({ created: 0, updated: 0, removed: 0, unchanged: [...before.keys()].filter((p) => !p.startsWith(state)).length });
    expect(await snapshot(s.root)).toEqual(before);
    const cli = await xenroot(['sync', '--root', s.root], { env: { XENROOT_INVENTORY: s.inventory } });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/^nothing to do: \d+ files up to date/);
    expect(await snapshot(s.root)).toEqual(before);
  });

  it('a dry run with --diff shows the change and touches nothing', async () => {
    await setClient(s.inventory, 'dashed', { append: 'quiet' });
    await addClient(s.inventory, { mac: '00:16:3e:aa:00:04', name: 'fourth' });
    const before = await snapshot(s.root);
    const r = await sync(s.inventory, { root: s.root, dryRun: true, diff: true });
    // "fourth": its pxelinux link, its switch link, its own entry (pxelinux + iPXE) and its identity
    // piece; "dashed": a new entry (pxelinux + iPXE); its old one stays on disk (entries are named by
    // their content: kept for a way back until `image prune`), so nothing is removed.
    expect(r.counts.created).toBe(7);
    expect(r.counts.updated).toBe(2); // the switch link of "dashed", dnsmasq
    expect(r.counts.removed).toBe(0);
    const pxe = r.changes.find((c) => c.path.endsWith('/pxelinux') && c.diff?.includes('quiet'));
    expect(pxe?.diff).toMatch(/^\+  APPEND .*selinux=0 quiet$/m);
    expect(r.changes.find((c) => c.path.endsWith('/nodes/00-16-3e-aa-00-02'))?.diff).toMatch(/^--> entries\/[0-9a-f]{16}\n\+-> entries\/[0-9a-f]{16}$/m);
    expect(await snapshot(s.root)).toEqual(before);
    const cli = await xenroot(['sync', '--root', s.root, '--dry-run', '--diff'], { env: { XENROOT_INVENTORY: s.inventory } });
    expect(cli.stdout).toContain('dry run: would have 7 created, 2 updated, 0 removed');
    expect(cli.stdout).toContain('+dhcp-host=00:16:3e:aa:00:04,fourth');
    expect(await snapshot(s.root)).toEqual(before);
  });

  it('applies a change to exactly the files it touches and removes the files of a removed client', async () => {
    const r = await sync(s.inventory, { root: s.root });
    expect(r.counts).toMatchObject({ created: 7, updated: 2, removed: 0 });
    const set = await readlink(join(s.root, TFTP, 'nodes/00-16-3e-aa-00-01'));
    await removeClient(s.inventory, 'upper');
    const r2 = await sync(s.inventory, { root: s.root });
    // Its pxelinux link, its switch link and its identity piece; its entry (named by its content,
    // no secret in it) stays until `image prune` removes the entries no node names.
    expect(r2.counts).toMatchObject({ created: 0, updated: 1, removed: 3 });
    expect(existsSync(join(s.root, TFTP, 'nodes', set, 'pxelinux'))).toBe(true);
    expect(existsSync(join(s.root, TFTP, 'identity/node-upper.cpio.gz'))).toBe(false);
    expect(existsSync(join(s.root, TFTP, 'pxelinux.cfg/01-00-16-3e-aa-00-01'))).toBe(false);
    expect(existsSync(join(s.root, TFTP, 'nodes/00-16-3e-aa-00-01'))).toBe(false);
    expect(await readFile(join(s.root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8')).not.toContain('00:16:3e:aa:00:01');
  });

  it('a replaced kernel gets a new name; the old file goes at the same sync and nothing else changes', async () => {
    const old = (await readdir(join(s.root, TFTP, 'images/terminal'))).find((f) => f.startsWith('vmlinuz'));
    await writeFile(join(s.bootDir, 'terminal', `vmlinuz-${KVER}`), 'a new kernel build\n');
    // The entries the clients' switch links name (earlier tests left others on disk, kept for a way back).
    const nodes = join(s.root, TFTP, 'nodes');
    const named = async () => new Set(await Promise.all((await readdir(nodes)).filter((n) => n !== 'entries').map((n) => readlink(join(nodes, n)))));
    const was = await named();
    const entries = was.size;
    const onDisk = (await readdir(join(nodes, 'entries'))).length;
    const r = await sync(s.inventory, { root: s.root });
    const files = await readdir(join(s.root, TFTP, 'images/terminal'));
    const neu = files.find((f) => f.startsWith('vmlinuz'));
    expect(neu).not.toBe(old);
    expect(await readFile(join(s.root, TFTP, 'images/terminal', neu!), 'utf8')).toBe('a new kernel build\n');
    // Every boot entry names the kernel: each gets a new one (two files), each client's switch link
    // moves; the old entries stay (kept for a way back until `image prune`), the old kernel goes.
    expect(r.counts.removed).toBe(1);
    expect(r.counts.created).toBe(1 + 2 * entries);
    expect((await readdir(join(nodes, 'entries'))).length).toBe(onDisk + entries);
    expect([...(await named())].filter((e) => was.has(e))).toEqual([]);
    expect(r.changes.filter((c) => c.outcome === 'updated').map((c) => c.path).filter((p) => !p.includes('/nodes/') && !/\/default(\.ipxe)?$/.test(p))).toEqual([]);
  });

  it('restores a file changed or deleted behind its back', async () => {
    const f = join(s.root, TFTP, 'pxelinux.cfg/default');
    const text = await readFile(f, 'utf8');
    await writeFile(f, 'tampered\n');
    const r = await sync(s.inventory, { root: s.root });
    expect(r.counts.updated).toBe(1);
    expect(await readFile(f, 'utf8')).toBe(text);
  });
});

describe('files shared with the admin', () => {
  it('foreign lines of /etc/exports and of a dnsmasq config survive any number of syncs', async () => {
    const s = await site({ site: { dhcp: { file: '/etc/dnsmasq.conf' } }, clients: { a: { mac: '00:16:3e:bb:00:01', image: 'terminal' } } });
    await mkdir(join(s.root, 'etc'), { recursive: true });
    await writeFile(join(s.root, 'etc/exports'), FOREIGN_EXPORTS);
    await writeFile(join(s.root, 'etc/dnsmasq.conf'), FOREIGN_DNSMASQ);
    await chmod(join(s.root, 'etc/exports'), 0o640);
    for (let i = 0; i < 4; i++) {
      await addClient(s.inventory, { mac: `00:16:3e:bb:01:0${i}`, name: `n${i}` });
      if (i === 2) await updateInventory(s.inventory, (inv) => inv.set(['site', 'allow'], ['10.0.2.0/24', '10.0.3.0/24']));
      await sync(s.inventory, { root: s.root });
      // the admin adds a line after the block between syncs
      if (i === 1) await writeFile(join(s.root, 'etc/exports'), (await readFile(join(s.root, 'etc/exports'), 'utf8')) + '/late 10.1.1.1(ro)\n');
    }
    const exportsText = await readFile(join(s.root, 'etc/exports'), 'utf8');
    expect(exportsText.startsWith(FOREIGN_EXPORTS)).toBe(true);
    expect(exportsText).toContain('/late 10.1.1.1(ro)\n');
    expect(exportsText.match(/# BEGIN xenroot/g)).toHaveLength(1);
    expect(exportsText).toMatch(/img 10\.0\.2\.0\/24\(ro,no_root_squash,no_subtree_check\) 10\.0\.3\.0\/24\(/);
    expect(exportsText).not.toMatch(/img \*/);
    const dns = await readFile(join(s.root, 'etc/dnsmasq.conf'), 'utf8');
    expect(dns.startsWith(FOREIGN_DNSMASQ)).toBe(true);
    expect(dns).toContain('dhcp-host=00:16:3e:bb:01:03,n3');
    expect(dns.match(/# BEGIN xenroot/g)).toHaveLength(1);
    await expect((await import('node:fs/promises')).stat(join(s.root, 'etc/exports')).then((st) => st.mode & 0o777)).resolves.toBe(0o640);
    // Once /etc/exports.d exists the exports move there and the block leaves /etc/exports.
    await mkdir(join(s.root, 'etc/exports.d'));
    const r = await sync(s.inventory, { root: s.root });
    expect(r.changes.map((c) => [c.path, c.outcome])).toEqual(expect.arrayContaining([['/etc/exports.d/xenroot.exports', 'created'], ['/etc/exports', 'removed']]));
    expect(await readFile(join(s.root, 'etc/exports'), 'utf8')).toBe(FOREIGN_EXPORTS + '/late 10.1.1.1(ro)\n');
  });

  it('ISC dhcpd: host blocks in a managed block of dhcpd.conf', async () => {
    const s = await site({ site: { dhcp: { server: 'isc' } }, clients: { a: { mac: '00:16:3e:cc:00:01', image: 'terminal' } } });
    await mkdir(join(s.root, 'etc/dhcp'), { recursive: true });
    const own = 'subnet 10.0.2.0 netmask 255.255.255.0 { range 10.0.2.50 10.0.2.99; }\n';
    await writeFile(join(s.root, 'etc/dhcp/dhcpd.conf'), own);
    await sync(s.inventory, { root: s.root });
    await sync(s.inventory, { root: s.root });
    const text = await readFile(join(s.root, 'etc/dhcp/dhcpd.conf'), 'utf8');
    expect(text.startsWith(own)).toBe(true);
    expect(text).toContain('host xenroot-client-a { hardware ethernet 00:16:3e:cc:00:01; option host-name "a"; }');
  });
});

describe('sync failures', () => {
  it('names the syslinux packages when pxelinux.0 is missing', async () => {
    const s = await site({ clients: { a: { mac: '00:16:3e:dd:00:01', image: 'terminal' } } });
    const err = await sync(s.inventory, { root: s.root, syslinuxPaths: { pxelinux0: ['/nonexistent/pxelinux.0'], ldlinux: ['/usr/lib/syslinux/modules/bios/ldlinux.c32'] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).hint).toContain('pxelinux and syslinux-common');
    expect(await snapshot(s.root)).toEqual(new Map());
  });

  it('stages the UEFI loader beside pxelinux.0 (syslinux.efi and ldlinux.e64 by default), GRUB configs only with efiLoader grub', async () => {
    const s = await site({ clients: { a: { mac: '00:16:3e:dd:00:09', image: 'terminal' } } });
    await sync(s.inventory, { root: s.root });
    expect(await sha256File(join(s.root, TFTP, 'syslinux.efi'))).toBe(await sha256File('/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi'));
    expect(await sha256File(join(s.root, TFTP, 'ldlinux.e64'))).toBe(await sha256File('/usr/lib/syslinux/modules/efi64/ldlinux.e64'));
    expect(existsSync(join(s.root, TFTP, 'grub'))).toBe(false);
    const g = await site({ site: { pxe: { efiLoader: 'grub' } }, clients: { a: { mac: '00:16:3e:dd:00:0a', image: 'terminal' } } });
    await sync(g.inventory, { root: g.root });
    expect((await readdir(join(g.root, TFTP, 'grub'))).sort()).toEqual(['grub.cfg', 'grub.cfg-01-00-16-3e-dd-00-0a', 'grub.cfg-default']);
    expect(await sha256File(join(g.root, TFTP, 'grubx64.efi'))).toBe(await sha256File('/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed'));
    expect(existsSync(join(g.root, TFTP, 'shimx64.efi'))).toBe(true);
    expect(existsSync(join(g.root, TFTP, 'syslinux.efi'))).toBe(false);
  });

  it('names the Debian package of a missing UEFI loader, and writes nothing', async () => {
    const s = await site({ clients: { a: { mac: '00:16:3e:dd:00:0b', image: 'terminal' } } });
    const efiPaths = { syslinux: [{ name: 'syslinux.efi', paths: ['/nonexistent/syslinux.efi'], pkg: 'syslinux-efi' }], ipxe: [], grub: [] };
    const err = await sync(s.inventory, { root: s.root, efiPaths }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).message).toContain('syslinux.efi (looked at /nonexistent/syslinux.efi) not found on this host');
    expect((err as DependencyError).hint).toContain('apt-get install syslinux-efi');
    expect(await snapshot(s.root)).toEqual(new Map());
  });

  it('refuses to sync a client whose image has no pxe initrd, naming the file', async () => {
    const s = await site({ clients: { a: { mac: '00:16:3e:dd:00:02', image: 'terminal' } } });
    const { rm } = await import('node:fs/promises');
    await rm(join(s.bootDir, 'terminal', `initrd-${KVER}-pxe.img`));
    await expect(sync(s.inventory, { root: s.root })).rejects.toThrow(DeployError);
    await expect(sync(s.inventory, { root: s.root })).rejects.toThrow(`initrd-${KVER}-pxe.img does not exist`);
  });

  it('reports a failed exportfs -r and leaves the files correct (fake exportfs that exits 1: a fault we cannot cause for real)', async () => {
    const s = await site({ clients: { a: { mac: '00:16:3e:dd:00:03', image: 'terminal' } } });
    const sys = (p: string) => join(s.root, p);
    await updateInventory(s.inventory, (inv) => {
      inv.set(['site', 'tftpRoot'], sys('tftp'));
      inv.set(['site', 'exports'], { file: sys('etc/exports'), dir: sys('etc/exports.d') });
      inv.set(['site', 'dhcp'], { server: 'none' });
    });
    const bin = join(s.dir, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'exportfs'), '#!/bin/sh\necho "exportfs: cannot talk to nfsd" >&2\nexit 1\n', { mode: 0o755 });
    const r = await xenroot(['--json', 'sync'], { env: { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state'), PATH: `${bin}:${process.env.PATH}` } });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.reloads).toEqual([{ what: 'exports', command: 'exportfs -r', outcome: 'failed', message: 'exit 1: exportfs: cannot talk to nfsd' }]);
    expect(out.warnings.join('\n')).toContain('reload failed: exportfs -r');
    expect(await readFile(sys('etc/exports'), 'utf8')).toContain('(ro,no_root_squash,no_subtree_check)');
    // --no-reload skips it; nothing changed so nothing would run anyway
    const again = await xenroot(['--json', 'sync', '--no-reload'], { env: { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state'), PATH: `${bin}:${process.env.PATH}` } });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).reloads).toEqual([]);
  });
});

describe('GRUB (site.pxe.efiLoader: grub) and the per-node switch', () => {
  it('grub/grub.cfg-01-MAC is a fixed link through the client switch: it names the MAC and the identity piece, and follows the switch when the entry changes', async () => {
    const s = await site({ site: { pxe: { efiLoader: 'grub' } }, clients: { pc1: { mac: '52:54:00:aa:01:22', image: 'terminal' } } });
    await sync(s.inventory, { root: s.root });
    const grubFile = join(s.root, TFTP, 'grub/grub.cfg-01-52-54-00-aa-01-22');
    expect(await readlink(grubFile)).toBe('../nodes/52-54-00-aa-01-22/grub');
    const before = await readFile(grubFile, 'utf8');
    expect(before).toContain("'BOOTIF=01-52-54-00-aa-01-22'");
    expect(before).toMatch(/\n {2}initrd '\/images\/terminal\/initrd-\S+\.img' '\/identity\/node-pc1\.cpio\.gz'\n/);
    expect(existsSync(join(s.root, TFTP, 'shimx64.efi'))).toBe(true);
    expect(await readFile(join(s.root, TFTP, 'grub/grub.cfg'), 'utf8')).toContain('source "$prefix/grub.cfg-01-$xr_mac"');
    const entry = await readlink(join(s.root, TFTP, 'nodes/52-54-00-aa-01-22'));
    await setClient(s.inventory, 'pc1', { append: 'quiet' });
    const r = await sync(s.inventory, { root: s.root });
    // The switch moved; the GRUB link stayed as it was and reads the new entry.
    expect(await readlink(join(s.root, TFTP, 'nodes/52-54-00-aa-01-22'))).not.toBe(entry);
    expect(r.changes.map((c) => c.path)).not.toContain(`/${TFTP}/grub/grub.cfg-01-52-54-00-aa-01-22`);
    expect(await readFile(grubFile, 'utf8')).toMatch(/'quiet' 'BOOTIF=01-52-54-00-aa-01-22'/);
  });
});
