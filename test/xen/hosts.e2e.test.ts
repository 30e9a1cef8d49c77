/**
 * Many hosts at once (issue 15): the nested real Xen (dom0 with sshd, reached by xen+ssh:// and by
 * xen+tcp://, NO folder shared with it: kernel and initrd must be shipped over the libvirt
 * connection) and a local QEMU host (a private libvirtd), plus an inventory host that does not
 * answer. One nested-Xen boot serves every test of this file:
 *  1. `start --all` places one guest on each live host, ships its boot files as volumes, boots both
 *     to their marker (seen in the console log each host keeps: started without --console), and
 *     reports the dead host's guest within 10 s without holding up the others;
 *  2. `status --all --json` lists both with host, state and MAC; xen+tcp sees the same domain;
 *  3. a second `start --all` ships nothing;
 *  4. ssh failures against the real sshd: a changed host key and a refused key, one line each.
 * Opt-in: XENROOT_TEST_XEN=1 (npm run test:xen).
 */
import { execa } from 'execa';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalLibvirtd, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { xenroot } from '../support/cli.js';
import { markerInitrd } from '../support/hosts.js';
import { buildDom0, freeLoopbackPort, startNestedXen, type Dom0Build, type NestedXen } from '../support/xen.js';

const MARKER = 'XENROOT-HOSTS-MARKER';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Node {
  name: string;
  host: string;
  outcome: string;
  ms: number;
  atMs: number;
  message?: string;
  result?: { mac: string; target: string; placement?: string };
  shipped?: Array<{ name: string; path: string; uploaded: boolean }>;
}

describe.skipIf(!process.env.XENROOT_TEST_XEN)('two hosts at once: nested Xen over xen+ssh (no shared folder) and a local QEMU host', () => {
  let build: Dom0Build;
  let xen: NestedXen | undefined;
  let local: LocalLibvirtd | undefined;
  let dir: string;
  let env: Record<string, string>;
  let sshUri: string;
  const t0 = Date.now();
  const cli = (args: string[]) => xenroot(['--inventory', join(dir, 'inventory.yaml'), '--json', ...args], { env });

  /** Polls `console NAME --log-tail` until the marker shows. */
  async function logShows(name: string, re: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      const r = await cli(['console', name, '--log-tail', '400']);
      if (r.code === 0) text = (JSON.parse(r.stdout) as { lines: string[] }).lines.join('\n');
      if (re.test(text)) return text;
      await sleep(3000);
    }
    throw new Error(`no ${re} in the console log of ${name} within ${timeoutMs} ms; last:\n${text.split('\n').slice(-20).join('\n')}`);
  }

  beforeAll(async () => {
    build = await buildDom0();
    dir = await mkdtemp(join(tmpdir(), 'xenroot-xenhosts-'));
    const kver = build.manifest.kernelVersion;
    const boot = join(dir, 'boot', 'm');
    await mkdir(boot, { recursive: true });
    await mkdir(join(dir, 'img'));
    await mkdir(join(dir, 'state'));
    await copyFile(build.vmlinuz, join(boot, `vmlinuz-${kver}`));
    await markerInitrd(join(boot, `initrd-${kver}-xen.img`), MARKER, 'hvc0', build.netfront);
    await markerInitrd(join(boot, `initrd-${kver}-qemu.img`), MARKER, 'ttyS0');
    await writeFile(
      join(dir, 'inventory.yaml'),
      ['site:', '  nfsServer: 10.0.2.2', `  bootDir: ${join(dir, 'boot')}`, 'images:', `  m: { root: ${join(dir, 'img')}, kver: ${kver} }`, 'guests:', 'clients:', ''].join('\n'),
    );
    // xenroot's state (its ssh config and known_hosts) is this test's own.
    env = { XENROOT_STATE_DIR: join(dir, 'state'), XENROOT_LIBVIRT_TIMEOUT: '900' };
    [xen, local] = await Promise.all([startNestedXen({ ssh: true }), startLocalLibvirtd()]);
    console.log(`nested Xen (ssh on ${xen.sshPort}): QEMU start -> dom0 libvirtd answering: ${xen.readyMs} ms`);
    sshUri = `xen+ssh://root@127.0.0.1:${xen.sshPort}/system?keyfile=${build.sshClientKey}`;
  }, 1_800_000);

  afterAll(async () => {
    await local?.stop();
    await xen?.stop();
    if (xen) await rm(xen.workDir, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
    console.log(`whole two-host job: ${Date.now() - t0} ms`);
  }, 120_000);

  it('1. start --all places one guest on each host, ships its boot files, boots both to the marker; the dead host is reported within 10 s', async () => {
    // dom0 mounts no folder of this machine: only the 9p agent spool.
    expect(await xen!.mustRunInDom0('grep " 9p " /proc/mounts | grep -v xenroot-agent || true')).toBe('');
    for (const a of [
      ['host', 'add', 'xen', '--connect', sshUri],
      ['host', 'trust', 'xen', '--key-file', build.sshHostKeyPub],
      ['host', 'add', 'qemu', '--connect', local!.uri],
      ['host', 'add', 'gone', '--connect', `xen+tcp://127.0.0.1:${await freeLoopbackPort()}/system`],
      ['create', 'g1', '--image', 'm', '--memory', '128'],
      ['create', 'g2', '--image', 'm', '--memory', '128'],
      ['create', 'g3', '--image', 'm', '--memory', '128', '--host', 'gone'],
    ]) {
      const r = await cli(a);
      expect(r.code, `${a.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const s0 = Date.now();
    const r = await cli(['start', '--all']);
    console.log(`start --all (ship + create on both hosts): ${Date.now() - s0} ms`);
    expect(r.code, r.stderr).not.toBe(0);
    const nodes = JSON.parse(r.stdout) as Node[];
    console.log(JSON.stringify(nodes.map((n) => ({ name: n.name, host: n.host, outcome: n.outcome, ms: n.ms, atMs: n.atMs, message: n.message }))));
    const by = Object.fromEntries(nodes.map((n) => [n.name, n]));
    expect(by.g3).toMatchObject({ host: 'gone', outcome: 'failed' });
    // Reported within 10 s of the command's start (placement included), the others still booting.
    expect(by.g3!.atMs).toBeLessThan(10_000);
    expect(by.g1!.atMs).toBeGreaterThan(by.g3!.atMs);
    expect(by.g3!.message).toMatch(/Connection refused|did not answer/);
    const placed = [by.g1!, by.g2!];
    expect(placed.map((n) => n.outcome)).toEqual(['ok', 'ok']);
    expect(placed.map((n) => n.host).sort()).toEqual(['qemu', 'xen']);
    for (const n of placed) {
      expect(n.result?.placement).toBe('placed');
      expect(n.shipped?.map((f) => f.uploaded)).toEqual([true, true]);
      expect(n.shipped?.[0]?.path).toMatch(/^\/var\/lib\/xenroot\/boot\/vmlinuz-/);
    }
    const onXen = placed.find((n) => n.host === 'xen')!;
    const onQemu = placed.find((n) => n.host === 'qemu')!;
    expect(onXen.result?.target).toBe('xen');
    expect(onQemu.result?.target).toBe('qemu');
    // The files are on dom0's disk, where the live definition points.
    const ls = await xen!.mustRunInDom0('ls -l /var/lib/xenroot/boot');
    for (const f of onXen.shipped!) expect(ls).toContain(f.name);
    const xml = (await execa('virsh', ['-c', xen!.uri, 'dumpxml', onXen.name])).stdout;
    expect(xml).toContain(`<kernel>${onXen.shipped![0]!.path}</kernel>`);
    // Started without --console: each host kept the boot in its console log.
    const t1 = Date.now();
    const xlog = await logShows(onXen.name, new RegExp(`nic eth0 ${onXen.result!.mac}`), 900_000);
    console.log(`Xen guest: marker in its console log ${Date.now() - t1} ms after start --all returned`);
    expect(xlog).toContain(`${MARKER} `);
    expect(xlog).toMatch(/console=hvc0/);
    const qlog = await logShows(onQemu.name, new RegExp(MARKER), 300_000);
    expect(qlog).toMatch(/console=ttyS0/);
  }, 1_800_000);

  it('2. status --all --json lists both with host, state and MAC; xen+tcp sees the Xen guest too', async () => {
    const r = await cli(['status', '--all']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; host: string; state: string; pinnedMac?: string; liveMacs?: string[] }>;
    const live = rows.filter((x) => x.host !== 'gone');
    expect(live.map((x) => [x.host, x.state]).sort()).toEqual([
      ['qemu', 'running'],
      ['xen', 'running'],
    ]);
    for (const x of live) expect(x.liveMacs?.[0]).toBe(x.pinnedMac);
    expect(rows.find((x) => x.name === 'g3')).toMatchObject({ host: 'gone', state: 'unreachable' });
    const xenRow = live.find((x) => x.host === 'xen')!;
    const tcp = await xenroot(['--inventory', join(dir, 'inventory.yaml'), '--json', '--connect', xen!.uri, 'status', xenRow.name], { env });
    expect(tcp.code, tcp.stderr).toBe(0);
    expect(JSON.parse(tcp.stdout)).toMatchObject({ state: 'running', liveMacs: [xenRow.pinnedMac] });
  }, 600_000);

  it('3. a second start --all ships nothing: every boot file is already on its host', async () => {
    const r = await cli(['start', '--all']);
    const nodes = JSON.parse(r.stdout) as Node[];
    for (const n of nodes.filter((x) => x.host !== 'gone')) {
      expect(n.outcome).toBe('skipped');
      expect(n.message).toMatch(/already running/);
      expect(n.shipped?.map((f) => f.uploaded)).toEqual([false, false]);
    }
  }, 600_000);

  it('4. ssh fails with one clear line: a changed host key, a refused key', async () => {
    const name = (JSON.parse((await cli(['status', '--host', 'xen'])).stdout) as Array<{ name: string }>)[0]!.name;
    // Another key recorded for the host: exactly what a changed host key looks like to ssh.
    const other = join(dir, 'other');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    expect((await cli(['host', 'trust', 'xen', '--key-file', `${other}.pub`])).stderr).toMatch(/differs from the one recorded/);
    expect((await cli(['host', 'trust', 'xen', '--key-file', `${other}.pub`, '--replace'])).code).toBe(0);
    const changed = await cli(['status', name]);
    expect(changed.code).toBe(5);
    expect(JSON.parse(changed.stderr.trim().split('\n').pop()!).message).toMatch(/ssh host key of root@127\.0\.0\.1:\d+ has CHANGED \(known_hosts .*known_hosts:1\)/);
    expect((await cli(['host', 'trust', 'xen', '--key-file', build.sshHostKeyPub, '--replace'])).code).toBe(0);
    // The right host key, a key dom0 does not authorise.
    const refused = await xenroot(['--inventory', join(dir, 'inventory.yaml'), '--json', '--connect', sshUri.replace(build.sshClientKey, other), 'status', name], { env });
    expect(refused.code).toBe(5);
    expect(JSON.parse(refused.stderr.trim().split('\n').pop()!).message).toMatch(/refused the ssh key \(publickey\)/);
    const ok = await cli(['status', name]);
    expect(ok.code, ok.stderr).toBe(0);
  }, 600_000);
});
