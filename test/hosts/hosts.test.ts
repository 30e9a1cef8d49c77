// Hosts (issue 15), the fast parts: the inventory's hosts section, the placement rule, the ssh
// failure classification with the exact messages recorded against libvirt 9.0 + OpenSSH 9.2 and
// libssh (docs/hosts.md), the virsh output readers against the real virsh on libvirt's test
// driver, and the fleet commands through the CLI over two hosts, one of which never answers.
import { execa } from 'execa';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyHypervisorMessage, mapHypervisorError } from '../../src/hypervisor/errors.js';
import { placeGuests } from '../../src/hypervisor/placement.js';
import { knownHostsName, sshConfigText, sshFiles, sshTarget, withSshWrapper } from '../../src/hypervisor/ssh.js';
import { parseFreecell, parseNodeinfo, parseVolCapacity, poolTargetPath, splitBatch, virshBatch } from '../../src/hypervisor/virsh.js';
import { bootVolumeName, poolXml } from '../../src/hypervisor/boot-store.js';
import { linesSince, parseSince } from '../../src/ops/console-log.js';
import { InventorySchema } from '../../src/inventory/schema.js';
import { inventory } from '../support/model.js';
import { xenroot } from '../support/cli.js';

const NOTE_KH = '/work/scratch/r15/kh.bad';

describe('ssh failures of xen+ssh:// get their own one-line error (messages as libvirt 9.0 printed them)', () => {
  const uri = 'xen+ssh://root@127.0.0.1:2290/system';
  const cases: Array<[string, string, RegExp]> = [
    [
      'Cannot recv data: No ED25519 host key is known for [127.0.0.1]:2290 and you have requested strict checking.\nHost key verification failed.: Connection reset by peer',
      'ssh-host-unknown',
      /host key of root@127\.0\.0\.1:2290 is not known yet/,
    ],
    ['Cannot recv data: Host key verification failed.: Connection reset by peer', 'ssh-host-unknown', /not known yet/],
    [
      `Cannot recv data: @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nOffending ED25519 key in ${NOTE_KH}:1\nHost key verification failed.: Connection reset by peer`,
      'ssh-host-key-changed',
      new RegExp(`CHANGED \\(known_hosts ${NOTE_KH}:1\\)`),
    ],
    ['Cannot recv data: root@127.0.0.1: Permission denied (publickey).: Connection reset by peer', 'ssh-auth', /refused the ssh key \(publickey\)/],
    ['Cannot recv data: ssh: connect to host 127.0.0.1 port 2291: Connection refused: Connection reset by peer', 'ssh-no-sshd', /no ssh server answers/],
    ['Cannot recv data: ssh: Could not resolve hostname nonexistent.invalid: Name or service not known: Connection reset by peer', 'ssh-no-sshd', /cannot resolve/],
    ['Cannot recv data: sh: 1: nc: not found: Connection reset by peer', 'ssh-no-libvirt', /no virt-ssh-helper/],
    ['Cannot recv data: sh: 1: virt-ssh-helper: not found: Connection reset by peer', 'ssh-no-libvirt', /no virt-ssh-helper/],
    ['End of file while reading data: sh: 1: nc: not found: Input/output error', 'ssh-no-libvirt', /no virt-ssh-helper/],
    [
      "Cannot recv data: virt-ssh-helper: cannot connect to '/var/run/libvirt/libvirt-sock': Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory: Connection reset by peer",
      'libvirtd-down',
      /libvirtd is not running on root@127\.0\.0\.1:2290/,
    ],
    ["libssh transport error: SSH host key for '127.0.0.1' (abc) was not accepted", 'ssh-host-unknown', /not known yet/],
    ["libssh transport error: No user interaction callback provided: Can't verify the session host key", 'ssh-host-unknown', /not known yet/],
    [
      "authentication failed: !!! SSH HOST KEY VERIFICATION FAILED !!!: Identity of host '127.0.0.1:2290' differs from stored identity. Please verify the new host key '...' to avoid possible man in the middle attack. The key is stored in '/work/scratch/r15/kh.bad'.",
      'ssh-host-key-changed',
      /CHANGED \(known_hosts \/work\/scratch\/r15\/kh\.bad\)/,
    ],
    ["libssh transport error: failed to authenticate: Access denied for 'publickey'. Authentication that can continue: publickey", 'ssh-auth', /refused the ssh key/],
  ];
  for (const [msg, reason, summary] of cases) {
    it(`${reason}: ${msg.split('\n')[0]!.slice(0, 70)}`, () => {
      expect(classifyHypervisorMessage(msg.replace(/\s+/g, ' '))).toBe(reason);
      const e = mapHypervisorError(new Error(msg), 'connecting to libvirt', uri);
      expect(e.reason).toBe(reason);
      expect(e.message).toMatch(summary);
      expect(e.message).not.toContain('\n');
      expect(e.hint).toBeTruthy();
      expect(e.hint).not.toMatch(/is libvirtd .* running and reachable/);
    });
  }
  it('a plain refused TCP connection is still "unreachable"', () => {
    expect(classifyHypervisorMessage("unable to connect to server at '127.0.0.1:1': Connection refused")).toBe('unreachable');
  });
});

describe('the ssh transport through xenroot\'s own ssh settings', () => {
  it('adds the wrapper and no_tty to ssh URIs only, keeping what the user wrote', () => {
    expect(withSshWrapper('xen+ssh://root@h:2222/system', '/s/xenroot-ssh')).toBe('xen+ssh://root@h:2222/system?command=/s/xenroot-ssh&no_tty=1');
    expect(withSshWrapper('xen+ssh://h/system?keyfile=/k&no_tty=0', '/w')).toBe('xen+ssh://h/system?keyfile=/k&no_tty=0&command=/w');
    expect(withSshWrapper('xen+ssh://h/system?command=/usr/bin/ssh', '/w')).toBe('xen+ssh://h/system?command=/usr/bin/ssh&no_tty=1');
    expect(withSshWrapper('xen+tcp://h/system', '/w')).toBe('xen+tcp://h/system');
  });
  it('writes a config with its own known_hosts, strict checking and BatchMode, which ssh itself accepts', async () => {
    const f = sshFiles({ XENROOT_STATE_DIR: '/state' });
    const text = sshConfigText(f);
    expect(text).toContain('UserKnownHostsFile /state/ssh/known_hosts');
    expect(text).toMatch(/StrictHostKeyChecking yes/);
    expect(text).toMatch(/BatchMode yes/);
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-ssh-'));
    try {
      const cfg = join(dir, 'ssh_config');
      writeFileSync(cfg, text.replace(/Include \S+/, ''));
      const g = await execa('ssh', ['-G', '-F', cfg, '-p', '2290', 'root@127.0.0.1']);
      expect(g.stdout).toMatch(/^stricthostkeychecking true$/m);
      expect(g.stdout).toMatch(/^batchmode yes$/m);
      expect(g.stdout).toContain('userknownhostsfile /state/ssh/known_hosts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names hosts in known_hosts as ssh does', () => {
    expect(sshTarget('xen+ssh://root@127.0.0.1:2290/system?x=1')).toEqual({ user: 'root', host: '127.0.0.1', port: 2290 });
    expect(sshTarget('qemu+ssh://kvm1.lab/system')).toEqual({ user: undefined, host: 'kvm1.lab', port: 22 });
    expect(knownHostsName('127.0.0.1', 2290)).toBe('[127.0.0.1]:2290');
    expect(knownHostsName('kvm1.lab', 22)).toBe('kvm1.lab');
  });
});

describe('placement: fewest guests, then most free memory, only hosts that fit', () => {
  const host = (name: string, freeMiB: number | undefined, guests = 0, extra: object = {}) => ({ name, freeKiB: freeMiB === undefined ? undefined : freeMiB * 1024, cpus: 2, guests, maxGuests: undefined, ...extra });
  it('spreads guests over two hosts, one each', () => {
    const p = placeGuests(
      [
        { guest: 'a', memoryMiB: 128, vcpus: 1 },
        { guest: 'b', memoryMiB: 128, vcpus: 1 },
      ],
      [host('xen', 1800), host('qemu', 8000)],
    );
    expect(p).toEqual([
      { guest: 'a', host: 'qemu' },
      { guest: 'b', host: 'xen' },
    ]);
  });
  it('skips a host that did not answer, is full, lacks memory or CPUs, and says why when none fits', () => {
    const hosts = [host('down', undefined, 0, { unreachable: 'connection refused' }), host('full', 8000, 2, { maxGuests: 2 }), host('small', 100), host('narrow', 8000, 0, { cpus: 1 })];
    const [p] = placeGuests([{ guest: 'g', memoryMiB: 256, vcpus: 2 }], hosts);
    expect(p?.host).toBeUndefined();
    expect(p?.reason).toMatch(/down: connection refused.*full: has its 2 guests.*small: 100 MiB free < 320 MiB.*narrow: 1 CPUs < 2 vCPUs/);
  });
  it('prefers the host with fewer guests over more free memory', () => {
    expect(placeGuests([{ guest: 'g', memoryMiB: 128, vcpus: 1 }], [host('big', 9000, 3), host('small', 1000, 1)])[0]?.host).toBe('small');
  });
});

describe('inventory hosts section', () => {
  it('accepts hosts with a URI, boot dir and max guests; a guest names one', () => {
    const inv = InventorySchema.parse({
      site: { nfsServer: '10.0.2.2' },
      images: { t: { root: '/srv/t', kver: '6.1.0-28-amd64' } },
      guests: { g: { image: 't', host: 'xen1' } },
      clients: {},
      hosts: { xen1: { connect: 'xen+ssh://root@xen1/system', maxGuests: 20 } },
    });
    expect(inv.hosts.xen1).toEqual({ connect: 'xen+ssh://root@xen1/system', bootDir: '/var/lib/xenroot/boot', maxGuests: 20 });
  });
  it('refuses an unknown host, a guest with both host and connect, and a bad max', () => {
    const base = { site: { nfsServer: '10.0.2.2' }, images: { t: { root: '/srv/t' } }, clients: {} };
    const e1 = InventorySchema.safeParse({ ...base, guests: { g: { image: 't', host: 'nope' } } });
    expect(e1.error?.issues[0]?.message).toBe('names host "nope", which is not in hosts');
    const e2 = InventorySchema.safeParse({ ...base, guests: { g: { image: 't', host: 'h', connect: 'xen:///system' } }, hosts: { h: { connect: 'xen:///system' } } });
    expect(e2.error?.issues[0]?.message).toMatch(/takes host or connect, not both/);
    const e3 = InventorySchema.safeParse({ ...base, guests: {}, hosts: { h: { connect: 'xen:///system', maxGuests: 0 } } });
    expect(e3.error?.issues[0]?.path).toEqual(['hosts', 'h', 'maxGuests']);
  });
  it('an inventory without hosts reads as before', () => {
    expect(inventory().hosts).toEqual({});
  });
});

describe('reading virsh', () => {
  const v = { uri: 'test:///default', displayUri: 'test:///default', timeoutMs: 20_000 };
  it('runs several commands in one virsh and reads each output by its marker, a failed one empty', async () => {
    const { out, stderr } = await virshBatch(v, 'test', [
      ['n', 'nodeinfo'],
      ['f', 'freecell'],
      ['x', 'vol-info --bytes --pool default-pool nosuch'],
      ['c', 'vol-create-as default-pool k1 0 --format raw'],
      ['i', 'vol-info --bytes --pool default-pool k1'],
      ['p', 'pool-dumpxml default-pool'],
    ]);
    expect(parseNodeinfo(out.get('n')!)).toEqual({ cpus: 16, memoryKiB: 3145728 });
    expect(parseFreecell(out.get('f')!)).toBeGreaterThan(0);
    expect(out.get('x')).toBe('');
    expect(stderr).toMatch(/no storage vol with matching path 'nosuch'/);
    expect(parseVolCapacity(out.get('i')!)).toBe(0);
    expect(poolTargetPath(out.get('p')!)).toBe('/default-pool');
  });
  it('parses freecell with and without a total, and splits markers', () => {
    expect(parseFreecell('Total: 1931516 KiB')).toBe(1931516);
    expect(parseFreecell('    0:     1000 KiB\n    1:     24 KiB')).toBe(1024);
    expect(splitBatch('@@a@@x\n@@b@@@@c@@y')).toEqual(new Map([['a', 'x'], ['b', ''], ['c', 'y']]));
  });
  it('names volumes by content and writes pool XML libvirt\'s schema accepts', async () => {
    expect(bootVolumeName('vmlinuz-6.1.0-28-amd64', 'e46dbc40c82b0000ffff')).toBe('vmlinuz-6.1.0-28-amd64-e46dbc40c82b');
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-pool-'));
    try {
      writeFileSync(join(dir, 'p.xml'), poolXml('xenroot-boot', '/var/lib/xenroot/boot', true));
      const r = await execa('virt-xml-validate', [join(dir, 'p.xml'), 'storagepool'], { reject: false });
      expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('domain XML of a guest on a host', () => {
  it('names the host\'s boot volumes and logs the QEMU serial console to a file with append, valid for libvirt\'s schema', async () => {
    const { guestSpec } = await import('../../src/render/guest-spec.js');
    const { renderQemuXml, renderXenXml } = await import('../../src/render/libvirt-xml.js');
    const data = inventory({ guests: { g: { image: 'terminal' } } });
    const paths = { kernel: '/var/lib/xenroot/boot/vmlinuz-6.1.0-28-amd64-0123456789ab', initrd: '/var/lib/xenroot/boot/initrd-terminal-6.1.0-28-amd64-qemu-ba9876543210', consoleLog: '/var/log/xenroot/console/g.log' };
    const qemu = renderQemuXml(guestSpec(data, 'g', 'qemu', paths));
    expect(qemu).toContain('<log file="/var/log/xenroot/console/g.log" append="on"/>');
    expect(qemu).toContain(`<kernel>${paths.kernel}</kernel>`);
    const xen = renderXenXml(guestSpec(data, 'g', 'xen', { kernel: paths.kernel, initrd: paths.initrd }));
    expect(xen).not.toContain('<log');
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-dom-'));
    try {
      for (const [n, x] of [['q.xml', qemu], ['x.xml', xen]] as const) {
        writeFileSync(join(dir, n), x);
        const r = await execa('virt-xml-validate', [join(dir, n), 'domain'], { reject: false });
        expect(r.exitCode, r.stderr + r.stdout).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('console log --since', () => {
  it('reads start, relative and absolute times', () => {
    expect(parseSince('start')).toBe('start');
    expect((parseSince('10m', 1_000_000_000) as Date).getTime()).toBe(1_000_000_000 - 600_000);
    expect(() => parseSince('yesterday-ish')).toThrow(/--since "yesterday-ish" is not valid/);
  });
  it('cuts xenconsoled-timestamped lines by time; untimed lines follow the line before; an untimed log is refused', () => {
    const log = '[2026-11-29 20:00:00] old\ncontinued\n[2026-11-29 20:05:00] new\nmore\n';
    expect(linesSince(log, new Date('2026-11-29T20:01:00Z'))).toEqual(['[2026-11-29 20:05:00] new', 'more', '']);
    expect(() => linesSince('no stamps here\n', new Date())).toThrow(/no timestamps/);
  });
});

describe('fleet commands over two hosts, one of which accepts connections and never answers', () => {
  let dir: string;
  let silent: Server;
  const accepted: Socket[] = [];
  let I: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xenroot-fleet-'));
    silent = createServer((c) => void accepted.push(c));
    const port = await new Promise<number>((r) => silent.listen(0, '127.0.0.1', () => r((silent.address() as { port: number }).port)));
    mkdirSync(join(dir, 'img'));
    // A test-driver node file: one domain (running) that the test host holds.
    const node = join(dir, 'node.xml');
    writeFileSync(
      node,
      `<node><domain type='test'><name>g-ok</name><memory>65536</memory><os><type>hvm</type></os><devices><interface type='bridge'><mac address='00:16:3e:00:00:01'/><source bridge='xenbr0'/></interface></devices></domain></node>\n`,
    );
    writeFileSync(
      join(dir, 'inventory.yaml'),
      [
        'site:',
        '  nfsServer: 10.0.2.2',
        'images:',
        `  t: { root: ${join(dir, 'img')}, kver: 6.1.0-28-amd64 }`,
        'guests:',
        '  g-ok: { image: t, host: testhost }',
        '  g-hung: { image: t, host: hung }',
        'clients:',
        'hosts:',
        `  testhost: { connect: "test://${node}" }`,
        `  hung: { connect: "xen+tcp://127.0.0.1:${port}/system" }`,
        '',
      ].join('\n'),
    );
    I = ['--inventory', join(dir, 'inventory.yaml'), '--json'];
  });
  afterAll(async () => {
    for (const c of accepted) c.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('stop --all finishes the answering host, reports the hung one within 10 s, and exits non-zero', async () => {
    const t0 = Date.now();
    const r = await xenroot([...I, 'stop', '--all', '--force']);
    const ms = Date.now() - t0;
    expect(r.code, r.stderr).toBe(11);
    const nodes = JSON.parse(r.stdout) as Array<{ name: string; host: string; outcome: string; message?: string }>;
    expect(nodes.map((n) => [n.name, n.host, n.outcome])).toEqual([
      ['g-hung', 'hung', 'failed'],
      ['g-ok', 'testhost', 'ok'],
    ]);
    expect(nodes[0]?.message).toMatch(/did not answer within 5 s/);
    expect(ms).toBeLessThan(10_000);
    expect((nodes[0] as unknown as { atMs: number }).atMs).toBeLessThan(10_000);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({ error: 'FleetFailedError', message: 'stop: 1 of 2 guests failed (g-hung)' });
  });

  it('status --all lists both with their host; the hung host\'s guest reads unreachable', async () => {
    const r = await xenroot([...I, 'status', '--all']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; host: string; state: string; liveMacs?: string[] }>;
    // The test driver reloads its node file in every process: the domain runs again.
    expect(rows.map((x) => [x.name, x.host, x.state, x.liveMacs])).toEqual([
      ['g-hung', 'hung', 'unreachable', undefined],
      ['g-ok', 'testhost', 'running', ['00:16:3e:00:00:01']],
    ]);
  });

  it('names the guests of one host with --host, and refuses a selection of nothing', async () => {
    const r = await xenroot([...I, 'status', '--host', 'testhost']);
    expect(JSON.parse(r.stdout).map((x: { name: string }) => x.name)).toEqual(['g-ok']);
    const none = await xenroot([...I, 'start']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name a guest, several, --all, --host H or --group G/);
  });

  it('host trust records a given host key in xenroot\'s known_hosts, refuses a different one, replaces it with --replace', async () => {
    const state = join(dir, 'state');
    const env = { XENROOT_STATE_DIR: state };
    const add = await xenroot([...I, 'host', 'add', 'sshhost', '--connect', 'xen+ssh://root@127.0.0.1:2290/system'], { env });
    expect(add.code, add.stderr).toBe(0);
    const keys = [join(dir, 'k1'), join(dir, 'k2')];
    for (const k of keys) await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]);
    const pub = (k: string) => readFileSync(`${k}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const t1 = await xenroot([...I, 'host', 'trust', 'sshhost', '--key-file', `${keys[0]}.pub`], { env });
    expect(t1.code, t1.stderr).toBe(0);
    expect(JSON.parse(t1.stdout)).toMatchObject({ known: '[127.0.0.1]:2290', added: [`[127.0.0.1]:2290 ${pub(keys[0]!)}`] });
    expect(JSON.parse(t1.stdout).fingerprints[0]).toMatch(/^256 SHA256:\S+ \[127\.0\.0\.1\]:2290 \(ED25519\)$/);
    expect(readFileSync(join(state, 'ssh/known_hosts'), 'utf8')).toBe(`[127.0.0.1]:2290 ${pub(keys[0]!)}\n`);
    const t2 = await xenroot([...I, 'host', 'trust', 'sshhost', '--key-file', `${keys[1]}.pub`], { env });
    expect(t2.code).toBe(5);
    expect(t2.stderr).toMatch(/differs from the one recorded/);
    const t3 = await xenroot([...I, 'host', 'trust', 'sshhost', '--key-file', `${keys[1]}.pub`, '--replace'], { env });
    expect(t3.code, t3.stderr).toBe(0);
    expect(readFileSync(join(state, 'ssh/known_hosts'), 'utf8')).toBe(`[127.0.0.1]:2290 ${pub(keys[1]!)}\n`);
    expect(readFileSync(join(state, 'ssh/xenroot-ssh'), 'utf8')).toContain(`exec ssh -F '${join(state, 'ssh/ssh_config')}' "$@"`);
    expect((await xenroot([...I, 'host', 'remove', 'sshhost'], { env })).code).toBe(0);
  });

  it('host add refuses a second entry for the same URI; host remove refuses while guests are placed there', async () => {
    const inv = readFileSync(join(dir, 'inventory.yaml'), 'utf8');
    const uri = /testhost: \{ connect: "([^"]+)"/.exec(inv)![1]!;
    const dup = await xenroot([...I, 'host', 'add', 'again', '--connect', uri]);
    expect(dup.code).toBe(3);
    expect(dup.stderr).toMatch(/host \\"testhost\\" already has the URI/);
    const rm = await xenroot([...I, 'host', 'remove', 'testhost']);
    expect(rm.code).toBe(3);
    expect(rm.stderr).toMatch(/still has guests: g-ok/);
  });
});
