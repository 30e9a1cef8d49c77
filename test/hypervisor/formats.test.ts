/**
 * The formats xenroot writes for libvirt and ssh besides the domain: the storage pool and volume
 * XML of the boot store, the known_hosts lines of `host trust`, the ssh_config and wrapper of
 * xen+ssh:// hosts. Each value is carried exactly or refused: read back by an independent reader
 * over FORMAT_RUNS random values, and by the real consumer (virt-xml-validate, ssh-keygen -F,
 * ssh -G) for the hostile ones.
 */
import fc from 'fast-check';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { poolXml, volumeXml } from '../../src/hypervisor/boot-store.js';
import { knownHostsName, sshConfigText, sshFiles } from '../../src/hypervisor/ssh.js';
import { FIELDS } from '../../src/inventory/schema.js';
import { UsageError } from '../../src/sys/errors.js';
import { FORMAT_RUNS } from '../support/runs.js';

const tmp = mkdtempSync(join(tmpdir(), 'xenroot-formats-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const hostile = ['a b', 'a,b', 'a\nb', '#a', '*', 'a*', '!a', '[a]', 'a]:22 [b', '@cert-authority', '|1|abc', 'a?', '-oProxyCommand=x', 'a\tb', '', 'a..b', 'a.'];
const hostLike = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: fc.constantFrom('a', 'Z', '1', '-', '.', ' ', ',', '\n', '#', '*', '!', '[', ']', ':', '@', '|', '?', '%'), maxLength: 20 }),
  fc.domain(),
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom(...hostile),
);
const portLike = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constant(22), fc.integer(), fc.double());

/**
 * Reads one known_hosts line as OpenSSH's hostfile.c does: `#` starts a comment, `@` a marker,
 * the first field (up to a space or tab) is a comma-separated list of names, `|` a hashed name, and
 * `*`, `?`, `!` make a name a pattern. Returns the names, or why the line is no plain entry.
 */
function readKnownHostsLine(line: string): string[] | string {
  if (line.includes('\n')) return 'several lines';
  if (/^[ \t]*(#|$)/.test(line)) return 'a comment';
  if (line.startsWith('@')) return 'a marker line';
  const names = (line.split(/[ \t]+/)[0] as string).split(',');
  if (names.some((n) => n.startsWith('|'))) return 'a hashed name';
  if (names.some((n) => /[*?!]/.test(n))) return 'a pattern';
  return names;
}

/** ssh's own name of HOST:PORT (put_host_port in misc.c): the host on port 22, else [host]:port. */
function sshLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

describe('known_hosts lines', () => {
  it(`name exactly the host and port they are for, or are refused (${FORMAT_RUNS} runs)`, () => {
    fc.assert(
      fc.property(hostLike, portLike, (host, port) => {
        let name: string;
        try {
          name = knownHostsName(host, port);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as Error).message).not.toContain('\n');
          return;
        }
        const names = readKnownHostsLine(`${name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==`);
        expect(names).toEqual([sshLookupName(host, port)]);
      }),
      { numRuns: FORMAT_RUNS },
    );
  });

  it('refuses host names with a space, comma, newline, #, *, !, [ or @ (one line naming the value)', () => {
    for (const h of hostile) expect(() => knownHostsName(h, 22), h).toThrow(`ssh host ${JSON.stringify(h)} cannot be named in known_hosts`);
    expect(() => knownHostsName('kvm1.lab', 0)).toThrow(/ssh port 0 is not valid/);
  });

  it('writes [host]:port and bare names that ssh-keygen -F finds for that host alone', async () => {
    const file = join(tmp, 'known_hosts');
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    const targets: [string, number][] = [['kvm1.lab', 22], ['kvm1.lab', 2222], ['127.0.0.1', 2290], ['::1', 22], ['fe80::1', 2222]];
    writeFileSync(file, targets.map(([h, p]) => `${knownHostsName(h, p)} ${key}`).join('\n') + '\n');
    for (const [h, p] of targets) {
      const r = await execa('ssh-keygen', ['-F', sshLookupName(h, p), '-f', file], { reject: false });
      expect(r.exitCode, `${h}:${p}`).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([`${knownHostsName(h, p)} ${key}`]);
    }
    const other = await execa('ssh-keygen', ['-F', '[kvm1.lab]:2223', '-f', file], { reject: false });
    expect(other.exitCode).not.toBe(0);
  });
});

describe('ssh_config and the ssh wrapper', () => {
  const dirLike = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `/${s}`),
    fc.stringMatching(/^(\/[A-Za-z0-9._+,:=@-]{1,8}){1,4}$/),
    fc.constantFrom('/var/lib/xen root', '/a#b', '/a%d', '/~x', "/it's", '/a"b', '/a*b', '/a\nInclude /etc/x'),
  );

  it(`carry the state directory as one literal token, or refuse it (${FORMAT_RUNS} runs)`, () => {
    fc.assert(
      fc.property(dirLike, (dir) => {
        let f: ReturnType<typeof sshFiles>;
        try {
          f = sshFiles({ XENROOT_STATE_DIR: dir });
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          return;
        }
        const lines = sshConfigText(f).split('\n');
        // ssh_config splits at white space and quotes, `#` starts a comment, `%` and `~` expand.
        const known = lines.find((l) => l.trim().startsWith('UserKnownHostsFile'))?.trim().split(/\s+/);
        expect(known).toEqual(['UserKnownHostsFile', f.knownHosts]);
        expect(f.knownHosts).not.toMatch(/[%~#"'*?[\\]/);
        expect(lines.find((l) => l.startsWith('Include'))?.split(/\s+/)).toEqual(['Include', f.local]);
      }),
      { numRuns: FORMAT_RUNS },
    );
  });

  it('ssh -G reads back the known_hosts file of a state dir with every accepted punctuation', async () => {
    const dir = join(tmp, 'st+a,b:c=d@e-f.g');
    const f = sshFiles({ XENROOT_STATE_DIR: dir });
    const cfg = join(tmp, 'ssh_config');
    writeFileSync(cfg, sshConfigText(f));
    const r = await execa('ssh', ['-G', '-F', cfg, 'kvm1.lab'], { reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^userknownhostsfile ${f.knownHosts.replace(/[.+]/g, '\\$&')}$`, 'm'));
    expect(() => sshFiles({ XENROOT_STATE_DIR: join(tmp, 'a dir') })).toThrow(/cannot be written into ssh_config/);
  });
});

/**
 * The text at `path` (`pool.target.path`) as an XML parser reads it, entities decoded once:
 * fast-xml-parser (xmlbuilder2's own reader decodes `&amp;#65;` twice).
 */
function textAt(xml: string, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], new XMLParser({ parseTagValue: false, ignoreAttributes: false }).parse(xml));
}

describe('libvirt storage pool and volume XML', () => {
  const bootDir = FIELDS.hosts.bootDir;
  const dirLike = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => `/${s}`),
    fc.string({ unit: fc.constantFrom('a', '<', '>', '&', '"', "'", ';', '/', ']]>', '<!--', '&amp;', '&lt;', '&#65;', '&x;'), maxLength: 12 }).map((s) => `/${s}`),
  );

  it(`carry the boot directory of every host the schema accepts exactly (${FORMAT_RUNS} runs)`, () => {
    fc.assert(
      fc.property(dirLike, (raw) => {
        const r = bootDir.safeParse(raw);
        if (!r.success) return;
        const xml = poolXml('xenroot-boot', r.data, true);
        expect(textAt(xml, 'pool.target.path')).toBe(r.data);
        expect(textAt(xml, 'pool.name')).toBe('xenroot-boot');
      }),
      { numRuns: FORMAT_RUNS },
    );
  });

  it(`carry every volume name exactly (${FORMAT_RUNS} runs)`, () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('v', '1', '-', '.', '<', '&', '>', '"'), minLength: 1, maxLength: 20 }), (name) => {
        expect(textAt(volumeXml(name), 'volume.name')).toBe(name);
      }),
      { numRuns: FORMAT_RUNS },
    );
  });

  it('a boot dir with <, & and quotes gives pool and volume XML libvirt\'s schema accepts', async () => {
    const pool = join(tmp, 'pool.xml');
    writeFileSync(pool, poolXml('xenroot-boot', '/srv/<boot>&"x\'', true));
    const vol = join(tmp, 'vol.xml');
    writeFileSync(vol, volumeXml('vmlinuz-6.1.0-28-amd64-e46dbc40c82b'));
    for (const [file, kind] of [[pool, 'storagepool'], [vol, 'storagevol']] as const) {
      const r = await execa('virt-xml-validate', [file, kind], { reject: false });
      expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    }
  });
});
