// Remote-host URIs from the attacker's side: whoever gets a URI into `host add`, `--connect`, the
// environment or the inventory must not turn off the check of the host's key without the admin
// saying so, and must not smuggle an option into ssh or ssh-keyscan through the host or user part.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';

let dir: string;
let inv: string;
let env: Record<string, string>;

function writeInventory(extra: string[] = []): void {
  writeFileSync(inv, ['site:', '  nfsServer: 10.0.2.2', 'images:', `  t: { root: ${join(dir, "img")}, kver: 6.1.0-28-amd64 }`, 'guests:', 'clients:', ...extra, ''].join('\n'));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-remote-uri-'));
  inv = join(dir, 'inventory.yaml');
  env = { XENROOT_STATE_DIR: join(dir, 'state') };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('host add: URIs that turn off the host-key check', () => {
  const disabling: Array<[string, RegExp]> = [
    ['xen+ssh://root@hv1.example/system?no_verify=1', /no_verify=1/],
    ['xen+ssh://root@hv1.example/system?NO_VERIFY=1', /no_verify=1/],
    ['xen+ssh://root@hv1.example/system?no%5Fverify=1', /no_verify=1/],
    ['xen+tls://hv1.example/system?no_verify=1', /no_verify=1/],
    ['qemu+libssh://root@hv1.example/system?known_hosts_verify=ignore', /known_hosts_verify=ignore/],
    ['qemu+libssh2://root@hv1.example/system?known_hosts_verify=auto', /known_hosts_verify=auto/],
    ['xen+ssh://root@hv1.example/system?command=/tmp/ssh-that-accepts-any-key', /command=\/tmp\/ssh-that-accepts-any-key/],
  ];
  for (const [uri, named] of disabling) {
    it(`refuses ${uri}, naming the setting, and writes nothing`, async () => {
      writeInventory();
      const before = readFileSync(inv, 'utf8');
      const r = await xenroot(['--inventory', inv, 'host', 'add', 'evil', '--connect', uri], { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(named);
      expect(r.stderr).toMatch(/--allow-unverified-host-key/);
      expect(readFileSync(inv, 'utf8')).toBe(before);
    });
  }

  it('accepts such a URI only when the admin says so with --allow-unverified-host-key', async () => {
    writeInventory();
    const r = await xenroot(['--inventory', inv, '--allow-unverified-host-key', 'host', 'add', 'lab', '--connect', 'xen+ssh://root@hv1.example/system?no_verify=1'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(inv, 'utf8')).toContain('no_verify=1');
  });

  it('accepts ordinary remote URIs (user, host name, IPv4, IPv6, port, socket path)', async () => {
    writeInventory();
    const good = ['xen+ssh://root@hv1.example.org/system', 'xen+ssh://admin_1@192.0.2.7:2222/system', 'qemu+ssh://root@[2001:db8::7]/system', 'qemu:///system?socket=/run/x/libvirt-sock', 'xen+tcp://hv2:16509/system', 'xen+ssh://root@hv3/system?keyfile=/root/.ssh/id_hv3&no_verify=0'];
    for (const [i, uri] of good.entries()) {
      const r = await xenroot(['--inventory', inv, 'host', 'add', `h${i}`, '--connect', uri], { env });
      expect(r.code, `${uri}: ${r.stderr}`).toBe(0);
    }
  });
});

describe('host and user parts that would be read as options', () => {
  const hostile = [
    'xen+ssh://-oProxyCommand=touch%20PWNED/system',
    'xen+ssh://root@-oProxyCommand=id/system',
    'xen+ssh://-oProxyCommand=id@hv1.example/system',
    'xen+ssh://root@hv1.example/system?keyfile=-oProxyCommand=id',
    'xen+ssh://root@hv1.example/system?netcat=%20-e%20sh',
    'xen+ssh://ro%0aot@hv1.example/system',
  ];
  for (const uri of hostile) {
    it(`host add refuses ${uri} (one line naming the bad part, inventory untouched)`, async () => {
      writeInventory();
      const before = readFileSync(inv, 'utf8');
      const r = await xenroot(['--inventory', inv, 'host', 'add', 'evil', '--connect', uri], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/its (host|user|keyfile value|netcat value) /);
      expect(readFileSync(inv, 'utf8')).toBe(before);
    });
  }

  it('an inventory written with such a host is refused when loaded, before anything connects', async () => {
    writeInventory(['hosts:', '  evil: { connect: "xen+ssh://-oProxyCommand=touch%20PWNED/system" }']);
    const r = await xenroot(['--inventory', inv, 'host', 'trust', 'evil'], { env });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/is not a host name or address/);
  });
});

describe('connections through a URI that skips the host-key check', () => {
  let server: Server;
  let port = 0;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    server = createServer((c) => void accepted.push(c));
    port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  });
  afterAll(async () => {
    for (const c of accepted) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a guest whose inventory URI says no_verify=1 is never connected to without the flag', async () => {
    writeInventory(['hosts:', `  h: { connect: "xen+tls://127.0.0.1:${port}/system?no_verify=1" }`]);
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('guests:\n', 'guests:\n  g: { image: t, host: h }\n'));
    const r = await xenroot(['--inventory', inv, 'status', 'g'], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/turns off the check of the host's key \(no_verify=1\)/);
    expect(accepted).toHaveLength(0);
  });

  it('--connect with known_hosts_verify=ignore is refused before any connection', async () => {
    writeInventory(['hosts:']);
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('guests:\n', 'guests:\n  g: { image: t }\n'));
    const r = await xenroot(['--inventory', inv, '--connect', `qemu+libssh2://root@127.0.0.1:${port}/system?known_hosts_verify=ignore`, 'status', 'g'], { env });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/known_hosts_verify=ignore/);
    expect(accepted).toHaveLength(0);
  });
});

describe('ssh-keyscan', () => {
  it('gets the host name after "--" (recording stand-in for ssh-keyscan: its argv cannot be observed otherwise)', async () => {
    const bin = join(dir, 'bin');
    const record = join(dir, 'keyscan-argv');
    rmSync(bin, { recursive: true, force: true });
    mkdirSync(bin);
    writeFileSync(join(bin, 'ssh-keyscan'), `#!/bin/sh\nprintf '%s\\n' "$@" > '${record}'\nexit 1\n`);
    chmodSync(join(bin, 'ssh-keyscan'), 0o755);
    writeInventory(['hosts:', '  h: { connect: "xen+ssh://root@hv1.invalid:2299/system" }']);
    await xenroot(['--inventory', inv, 'host', 'trust', 'h'], { env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    const argv = readFileSync(record, 'utf8').trim().split('\n');
    expect(argv.slice(-2)).toEqual(['--', 'hv1.invalid']);
  });
});
