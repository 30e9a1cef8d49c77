/**
 * `--root DIR` of `image publish` and `image prune`: every file they write goes under DIR, as
 * DESTDIR does. The scratch inventory keeps the site's own system paths (/srv/xenroot,
 * /var/lib/xenroot/boot, /etc/exports, /etc/dnsmasq.d, /tftpboot), so a write that misses DIR
 * lands on this machine's and is caught by comparing those paths before and after.
 * The image is a small directory with a stand-in kernel and a module list that names every
 * module the built-in pxe initrd carries as built into the kernel (host busybox, no real modules).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expectXenroot } from '../support/cli.js';
import { expectSitePathsUntouched, sitePaths } from '../support/site-paths.js';
import { NFS_MODULES, DEFAULT_PXE_NICS } from '../../src/initrd/targets.js';

const KVER = '6.1.0-99-amd64';
let dir: string;
let root: string;
let img: string;
let env: Record<string, string>;

const x = (args: string[], code = 0) => expectXenroot(args, env, code);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-writeroot-'));
  img = join(dir, 'img');
  const modules = join(img, 'lib/modules', KVER);
  await mkdir(join(img, 'boot'), { recursive: true });
  await mkdir(join(img, 'etc'));
  await mkdir(modules, { recursive: true });
  await writeFile(join(img, 'boot', `vmlinuz-${KVER}`), 'not really a kernel\n');
  await writeFile(join(img, 'etc/motd'), 'one\n');
  await writeFile(join(modules, 'modules.dep'), '');
  await writeFile(join(modules, 'modules.builtin'), [...NFS_MODULES, ...DEFAULT_PXE_NICS, 'overlay'].map((m) => `kernel/m/${m}.ko\n`).join(''));
  root = join(dir, 'root');
  // The working directory's boot files, staged under DIR by an earlier run (pc1 boots them).
  await mkdir(join(root, 'var/lib/xenroot/boot/terminal'), { recursive: true });
  await writeFile(join(root, 'var/lib/xenroot/boot/terminal', `vmlinuz-${KVER}`), 'not really a kernel\n');
  await writeFile(join(root, 'var/lib/xenroot/boot/terminal', `initrd-${KVER}-pxe.img`), 'not really an initrd\n');
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({
      site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], pxe: { tftpUser: 'root' } },
      images: { terminal: { root: img, kver: KVER } },
      guests: {},
      clients: { pc1: { mac: '52:54:00:00:00:01', image: 'terminal' } },
    }),
  );
  env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('image publish and prune with --root DIR', () => {
  it('publish --root writes the revision tree, its records, the staged kernel and initrd, exports, DHCP and the TFTP tree under DIR and nothing at the site paths', async () => {
    const before = sitePaths();
    const r = JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--root', root, '--target', 'pxe'])).stdout);
    expectSitePathsUntouched(before);
    // What the files say names the site's own paths; where they are is under DIR.
    expect(r).toMatchObject({ ref: 'terminal@1', path: '/srv/xenroot/revisions/terminal/1' });
    expect(r.sync.warnings).toEqual([]);
    expect(await readFile(join(root, 'srv/xenroot/revisions/terminal/1/etc/motd'), 'utf8')).toBe('one\n');
    expect(existsSync(join(root, dir, 'state/revisions'))).toBe(true);
    expect(existsSync(join(dir, 'state/revisions'))).toBe(false);
    for (const f of [`vmlinuz-${KVER}`, `initrd-${KVER}-pxe.img`]) expect(existsSync(join(root, 'var/lib/xenroot/boot/terminal@1', f))).toBe(true);
    expect(await readFile(join(root, 'etc/exports'), 'utf8')).toContain('/srv/xenroot/revisions/terminal/1 10.0.2.0/24(');
    expect(await readFile(join(root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8')).toContain('52:54:00:00:00:01');
    expect(existsSync(join(root, 'tftpboot/linux-install/pxelinux.cfg/01-52-54-00-00-00-01'))).toBe(true);
    expect(existsSync(join(root, 'tftpboot/linux-install/images/terminal@1'))).toBe(true);
  });

  it('prune --root removes the pruned tree and boot files under DIR, rewrites the exports there, and touches nothing at the site paths', async () => {
    await writeFile(join(img, 'etc/motd'), 'two\n');
    expect(JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--root', root])).stdout)).toMatchObject({ ref: 'terminal@2', linkedTo: 1 });
    const before = sitePaths();
    const r = JSON.parse((await x(['--json', 'image', 'prune', 'terminal', '--root', root])).stdout);
    expectSitePathsUntouched(before);
    expect(r.removed).toEqual(['terminal@1']);
    expect(existsSync(join(root, 'srv/xenroot/revisions/terminal/1'))).toBe(false);
    expect(existsSync(join(root, 'var/lib/xenroot/boot/terminal@1'))).toBe(false);
    expect(await readFile(join(root, 'srv/xenroot/revisions/terminal/2/etc/motd'), 'utf8')).toBe('two\n');
    const exports = await readFile(join(root, 'etc/exports'), 'utf8');
    expect(exports).not.toContain('/srv/xenroot/revisions/terminal/1 ');
    expect(exports).toContain('/srv/xenroot/revisions/terminal/2 ');
  });

  it('rollout and rollback --root read the revisions under DIR and write the staged boot files, the records and the TFTP tree there, and nothing at the site paths', async () => {
    const before = sitePaths();
    const out = JSON.parse((await x(['--json', 'rollout', 'terminal@2', '--all', '--force', '--root', root])).stdout);
    expect(out.moved).toEqual([{ node: 'client pc1', from: 'terminal', to: 'terminal@2' }]);
    await writeFile(join(img, 'etc/motd'), 'three\n');
    await x(['image', 'publish', 'terminal', '--root', root]);
    await x(['rollout', 'terminal@3', '--all', '--force', '--root', root]);
    const entries = join(root, 'tftpboot/linux-install/nodes/entries');
    const named = async () => (await Promise.all((await readdir(entries)).map((e) => readFile(join(entries, e, 'pxelinux'), 'utf8')))).join('');
    expect(await named()).toContain('images/terminal@3/');
    const back = JSON.parse((await x(['--json', 'rollback', 'terminal', '--all', '--root', root])).stdout);
    expect(back.moved).toEqual([{ node: 'client pc1', from: 'terminal@3', to: 'terminal@2' }]);
    expect(await named()).toContain('images/terminal@2/');
    expect(existsSync(join(root, 'var/lib/xenroot/boot/terminal@3', `initrd-${KVER}-pxe.img`))).toBe(true);
    expect(back.record.startsWith(join(root, dir, 'state/revisions/'))).toBe(true);
    expectSitePathsUntouched(before);
  });

  it('a rollout leaves the entry its nodes left on disk, a rollout back reuses it and writes none, and image prune removes the entries no node names', async () => {
    const tftp = join(root, 'tftpboot/linux-install');
    const entries = join(tftp, 'nodes/entries');
    const onDisk = async () => (await readdir(entries)).sort();
    const named = async () => readlink(join(tftp, 'nodes/52-54-00-00-00-01'));
    const on2 = await named();
    const fwd = JSON.parse((await x(['--json', 'rollout', 'terminal@3', '--all', '--force', '--root', root])).stdout);
    expect(fwd.counts.removed).toBe(0);
    expect(await onDisk()).toContain(on2.replace('entries/', ''));
    const on3 = await named();
    // Back to @2: its entry is still there, so only the node's switch link changes.
    const back = JSON.parse((await x(['--json', 'rollout', 'terminal@2', '--all', '--force', '--root', root])).stdout);
    expect(back.changes.filter((c: { outcome: string }) => c.outcome !== 'unchanged').map((c: { path: string; outcome: string }) => `${c.outcome} ${c.path}`)).toEqual(['updated /tftpboot/linux-install/nodes/52-54-00-00-00-01']);
    expect(await named()).toBe(on2);
    expect(await onDisk()).toContain(on3.replace('entries/', ''));
    await x(['image', 'prune', 'terminal', '--root', root, '--keep', '3']);
    expect(await onDisk()).toEqual([on2.replace('entries/', '')]);
  });

  it('the moved options are refused with one line naming the new one, and a --root that holds a root filesystem is refused as a likely old "publish from"; nothing is written', async () => {
    await mkdir(join(img, 'usr/lib'), { recursive: true });
    await writeFile(join(img, 'usr/lib/os-release'), 'ID=debian\n');
    const before = sitePaths();
    const cases: [string[], string][] = [
      [['image', 'publish', 'terminal', '--file', join(dir, 'x.img')], 'xenroot: --file is now --from-file IMG (--root DIR writes every file under DIR)\n'],
      [['image', 'publish', 'terminal', '--sync-root', root], 'xenroot: --sync-root is now --root DIR, which writes every file under DIR, not only the generated ones\n'],
      [['image', 'prune', 'terminal', '--sync-root', root], 'xenroot: --sync-root is now --root DIR, which writes every file under DIR, not only the generated ones\n'],
      [['image', 'publish', 'terminal', '--root', img], `xenroot: --root ${img} holds a root filesystem: --root DIR writes every file under DIR; to publish from that directory give --from ${img}\n`],
    ];
    for (const [args, line] of cases) expect((await x(args, 2)).stderr).toBe(line.trimEnd());
    expectSitePathsUntouched(before);
    expect(existsSync(join(img, 'srv'))).toBe(false);
    expect(existsSync(join(root, 'srv/xenroot/revisions/terminal/4'))).toBe(false);
  });
});
