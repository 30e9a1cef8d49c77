/**
 * From test to hardware, on real components, through the CLI as an admin runs it: a PXE client
 * (QEMU + iPXE ROM, QEMU's TFTP serving the tree `xenroot rollout` wrote under the test's dir) and a guest (QEMU
 * under a private libvirtd) boot revision 1 of an image (marker A) over NFSv4 from nfs-ganesha on
 * loopback, which serves the revisions directory (each revision at /export/terminal/REV).
 * Revision 2 (marker B) is published; its rollout before a test is refused and changes no file;
 * `xenroot test terminal@2` PASSes and is recorded; the rollout moves both nodes and both boot
 * marker B; rollback, and both boot marker A again (the client this time through its iPXE
 * script). Meanwhile a client still running revision 1 keeps reading its root over NFS while
 * revision 2 is published and rolled out.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { tinyInit } from '../../src/image/tiny.js';
import { xenroot } from '../support/cli.js';
import { smallTinyTree } from '../support/kernel.js';
import { bootQemu, type QemuVm, TCG_APPEND } from '../support/qemu.js';
import { snapshot } from '../sync/fixture.js';

const MAC = '52:54:00:e2:12:01';
let dir: string;
let img: string;
let root: string;
let tftp: string;
let nfs: NfsServer;
let libvirtd: LocalLibvirtd;
let env: Record<string, string>;
const vms: QemuVm[] = [];

/** The tiny init with a marker, and a heartbeat that re-reads a file of the root over NFS every second. */
function init(marker: string): string {
  const beat = `(while :; do echo 3 > /proc/sys/vm/drop_caches; echo "xenroot-beat: $(cat /etc/xenroot-rev) $(md5sum /bin/busybox | cut -c1-8)"; sleep 1; done) &\n`;
  return tinyInit(marker).replace('setsid cttyhack sh', `${beat}setsid cttyhack sh`);
}

async function x(args: string[], code = 0) {
  const r = await xenroot(args, { env });
  expect(r.code, `xenroot ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
  return r;
}

/**
 * A test that boots (every one in this file): longer than the boots' own waits (console --timeout 120 s, the
 * client's 140 s), so a boot that hangs fails with its console, not with vitest's bare timeout.
 */
const BOOT_TEST_MS = 240_000;

async function bootClient(bootfile = 'pxelinux.0'): Promise<QemuVm> {
  const vm = await bootQemu({ mac: MAC, memory: 384, pxe: { tftp, bootfile } });
  vms.push(vm);
  return vm;
}

/** Starts the guest and waits for a marker on its console; returns the console log. */
async function bootGuest(marker: string): Promise<string> {
  await x(['start', 'Terminal']);
  const log = join(dir, `Terminal-${marker}.log`);
  await x(['console', 'Terminal', '--expect', marker, '--timeout', '120', '--log', log]);
  return readFile(log, 'utf8');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-revisions-'));
  img = join(dir, 'img');
  root = join(dir, 'root');
  tftp = join(root, 'tftpboot/linux-install');
  const revs = join(dir, 'revs');
  await mkdir(revs);
  await smallTinyTree(img, ['pxe', 'qemu', 'xen']);
  await writeFile(join(img, 'sbin/init'), init('XENROOT-MARKER-A'), { mode: 0o755 });
  await writeFile(join(img, 'etc/xenroot-rev'), 'A\n');
  // ganesha serves the revisions directory: revision REV of terminal is /export/terminal/REV.
  [nfs, libvirtd] = await Promise.all([startNfsServer({ exports: [{ path: revs }] }), startLocalLibvirtd()]);
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_CONNECT: libvirtd.uri, XENROOT_STATE_DIR: join(dir, 'state') };
  await x(['init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(dir, 'boot'), '--tftp-root', tftp]);
  const doc = parse(await readFile(env.XENROOT_INVENTORY!, 'utf8')) as { site: Record<string, unknown> };
  doc.site.revisions = { dir: revs, export: nfs.exports[0]!.pseudo };
  // Every generated file of the site under root (exports, DHCP, TFTP tree), written with --no-reload.
  doc.site.exports = { file: join(root, 'etc/exports'), dir: join(root, 'etc/exports.d') };
  doc.site.dhcp = { file: join(root, 'etc/dnsmasq.d/xenroot.conf') };
  await writeFile(env.XENROOT_INVENTORY!, stringify(doc));
  await x(['image', 'add', 'terminal', '--root', img, '--nfs-options', `port=${nfs.port}`]);
  await x(['create', 'Terminal', '--image', 'terminal', '--memory', '256', '--append', TCG_APPEND]);
  await x(['client', 'add', MAC, '--name', 'pc1', '--image', 'terminal', '--append', `console=ttyS0 ${TCG_APPEND}`]);
  await x(['image', 'publish', 'terminal', '--no-reload']);
  // Revision 1 goes out untested, on purpose: --force is recorded.
  const r = JSON.parse((await x(['--json', 'rollout', 'terminal@1', '--all', '--force', '--no-reload'])).stdout);
  expect(r.forced).toBe(true);
}, 600_000);

afterAll(async () => {
  for (const vm of vms) await vm.stop().catch(() => undefined);
  await libvirtd?.stop();
  await nfs?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('revisions from test to hardware', () => {
  let running: QemuVm;

  it('a PXE client and a guest boot revision 1 (marker A) from its own export', async () => {
    const [guestLog] = await Promise.all([
      bootGuest('XENROOT-MARKER-A'),
      (async () => {
        running = await bootClient();
        await running.waitFor(/xenroot-beat: A /, 140_000);
      })(),
    ]);
    expect(guestLog).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/1 \S+ nfs4 /);
    expect(running.console()).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/1 \S+ nfs4 /);
    expect(running.console()).toContain('XENROOT-MARKER-A');
    // pxelinux read its file through the node's switch links (QEMU's TFTP follows them).
    expect(running.console()).toMatch(/Command line: .*initrd=images\/terminal@1\/initrd-\S+ root=nfs4:10\.0\.2\.2:\/export\/terminal\/1:port=/);
    const status = JSON.parse((await x(['--json', 'status'])).stdout) as { name: string; running?: string; nextBoot: string }[];
    expect(status.find((r) => r.name === 'Terminal')).toMatchObject({ running: 'terminal@1', nextBoot: 'terminal@1' });
    expect(status.find((r) => r.name === 'pc1')).toMatchObject({ nextBoot: 'terminal@1' });
  }, BOOT_TEST_MS);

  it('revision 2 (marker B) is published; its rollout before a test is refused and changes no file; after its test PASSes the rollout moves both nodes, while a client still on revision 1 keeps reading its root', async () => {
    // The admin edits the working directory in place: revision 1 must not change with it.
    await writeFile(join(img, 'sbin/init'), init('XENROOT-MARKER-B'), { mode: 0o755 });
    await writeFile(join(img, 'etc/xenroot-rev'), 'B\n');
    const pub = JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--no-reload'])).stdout);
    expect(pub).toMatchObject({ revision: 2, linkedTo: 1 });
    expect(pub.addedBytes).toBeLessThan(pub.bytes / 10);
    expect(JSON.parse((await x(['--json', 'image', 'verify', 'terminal@1'])).stdout).intact).toBe(true);

    const before = await snapshot(root);
    const invBefore = await readFile(env.XENROOT_INVENTORY!, 'utf8');
    const refused = await x(['rollout', 'terminal@2', '--all', '--no-reload'], 9);
    expect(refused.stderr).toContain('terminal@2 has no PASS on record (never tested): nothing was rolled out');
    expect(await snapshot(root)).toEqual(before);
    expect(await readFile(env.XENROOT_INVENTORY!, 'utf8')).toBe(invBefore);

    const test = JSON.parse((await x(['--json', 'test', 'terminal@2', '--expect', 'XENROOT-MARKER-B', '--timeout', '180'])).stdout);
    expect(test).toMatchObject({ image: 'terminal@2', pass: true, record: { pass: true, target: 'qemu', builder: 'builtin' } });
    expect(test.record.initrdSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(test.record.log, 'utf8')).toContain('XENROOT-MARKER-B');

    const beats = (running.console().match(/xenroot-beat: A /g) ?? []).length;
    const moved = JSON.parse((await x(['--json', 'rollout', 'terminal@2', '--all', '--no-reload'])).stdout);
    expect(moved.moved.map((m: { node: string }) => m.node).sort()).toEqual(['client pc1', 'guest Terminal']);
    expect(moved.forced).toBe(false);
    const show = JSON.parse((await x(['--json', 'image', 'show', 'terminal'])).stdout);
    const rev = (n: number) => show.revisions.revisions.find((r: { revision: number }) => r.revision === n);
    expect(rev(2)).toMatchObject({ passed: true, boots: ['guest Terminal', 'client pc1'] });
    expect(rev(1)).toMatchObject({ boots: [], rollback: ['guest Terminal', 'client pc1'] });
    // The running client (booted from revision 1) still reads its root: fresh reads after the rollout.
    const moreBeats = async () => {
      for (let i = 0; i < 120; i++) {
        if ((running.console().match(/xenroot-beat: A /g) ?? []).length >= beats + 3) return;
        await new Promise((res) => setTimeout(res, 500));
      }
      throw new Error(`the client on revision 1 stopped reading its root:\n${running.tail()}`);
    };
    await moreBeats();
    expect(running.console()).not.toContain('xenroot-beat: B');
    expect(running.console()).not.toMatch(/Stale file handle|server .* not responding/);
    // A running guest keeps its revision until it is restarted.
    const status = JSON.parse((await x(['--json', 'status', 'Terminal'])).stdout);
    expect(status).toMatchObject({ running: 'terminal@1', nextBoot: 'terminal@2' });
  }, BOOT_TEST_MS);

  it('both nodes boot marker B from revision 2', async () => {
    await running.stop();
    await x(['stop', 'Terminal', '--force']);
    const [guestLog, client] = await Promise.all([bootGuest('XENROOT-MARKER-B'), bootClient()]);
    await client.waitFor(/XENROOT-MARKER-B/, 140_000);
    expect(client.console()).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/2 \S+ nfs4 /);
    expect(guestLog).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/2 \S+ nfs4 /);
    await client.stop();
    await x(['stop', 'Terminal', '--force']);
  }, BOOT_TEST_MS);

  it('rollback returns both to revision 1 in one step without a test; both boot marker A (the client through its iPXE script)', async () => {
    const back = JSON.parse((await x(['--json', 'rollback', 'terminal', '--all', '--no-reload'])).stdout);
    expect(back.moved.map((m: { to: string }) => m.to)).toEqual(['terminal@1', 'terminal@1']);
    const [guestLog, client] = await Promise.all([bootGuest('XENROOT-MARKER-A'), bootClient('ipxe/boot.ipxe')]);
    await client.waitFor(/XENROOT-MARKER-A/, 140_000);
    expect(client.console()).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/1 \S+ nfs4 /);
    expect(guestLog).toMatch(/xenroot-root: 10\.0\.2\.2:\/export\/terminal\/1 \S+ nfs4 /);
    await client.stop();
    await x(['stop', 'Terminal', '--force']);
    // Revision 2 is no longer booted nor a rollback target: prune removes it; revision 1 stays.
    const pruned = JSON.parse((await x(['--json', 'image', 'prune', 'terminal', '--keep', '0', '--no-reload'])).stdout);
    expect(pruned.removed).toEqual(['terminal@2']);
    expect(await readFile(join(root, 'etc/exports'), 'utf8')).not.toContain('/export/terminal/2');
  }, BOOT_TEST_MS);
});
