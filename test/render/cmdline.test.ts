/**
 * The kernel command line per initrd dialect, and the resolution of user arguments that conflict
 * with generated ones: examples, then a fast-check property over random appends (issue 11: "two
 * arguments on one command line that the initrd reads as a contradiction").
 */
import fc from 'fast-check';
import { isIPv4 } from 'node:net';
import { describe, expect, it } from 'vitest';
import { argKey, buildCmdline, parseIp, type CmdlineDialect } from '../../src/render/cmdline.js';
import { renderPxelinux } from '../../src/render/pxelinux.js';
import { renderIpxeEntry } from '../../src/render/ipxe.js';
import { RenderError } from '../../src/sys/errors.js';
import { TOKENS } from '../support/cmdline-tokens.js';

const DIALECTS: CmdlineDialect[] = ['builtin', 'dracut', 'initramfs-tools', 'mkinitrd'];
const base = { server: '10.0.2.2', path: '/srv/xenroot/t', nfsVersion: 4 as const, console: 'qemu' as const };
const line = (dialect: CmdlineDialect, over: Partial<Parameters<typeof buildCmdline>[0]> = {}) => buildCmdline({ ...base, dialect, ...over });
const args = (l: string) => l.split(' ');

describe('each initrd gets the root in the form it reads', () => {
  it('built-in and dracut: root=nfs4:SERVER:/PATH:OPTS; only dracut gets rd.neednet=1 (and rootovl: the overlay the others make)', () => {
    expect(line('builtin', { nfsOptions: 'port=2049' })).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t:port=2049 ro ip=dhcp console=ttyS0 selinux=0');
    expect(line('dracut', { nfsOptions: 'port=2049' })).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t:port=2049 ro ip=dhcp rd.neednet=1 rootovl console=ttyS0 selinux=0');
    expect(line('dracut', { nfsVersion: 3 })).toMatch(/^root=nfs:10\.0\.2\.2:\/srv\/xenroot\/t ro /);
  });

  it('initramfs-tools: root=nfs4: for v4 (the BOOT=xenroot script), the stock root=/dev/nfs nfsroot=SERVER:/PATH,OPTS for v3', () => {
    expect(line('initramfs-tools')).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t ro ip=dhcp console=ttyS0 selinux=0');
    expect(line('initramfs-tools', { nfsVersion: 3, nfsOptions: 'tcp,port=2049' })).toBe('root=/dev/nfs nfsroot=10.0.2.2:/srv/xenroot/t,tcp,port=2049 ro ip=dhcp console=ttyS0 selinux=0');
  });

  it('initramfs-tools refuses a host name as the server (klibc resolves none), naming it', () => {
    expect(() => line('initramfs-tools', { server: 'nfs.lab.example' })).toThrow(/"nfs\.lab\.example" is a host name.*klibc/);
    expect(() => line('initramfs-tools', { extra: ['root=nfs4:files.example:/x'] })).toThrow(RenderError);
    expect(line('builtin', { server: 'nfs.lab.example' })).toMatch(/^root=nfs4:nfs\.lab\.example:/);
  });

  it('legacy mkinitrd: the HOWTO\'s root=SERVER:/PATH, v4 and options as rootfstype=/rootflags=', () => {
    expect(line('mkinitrd', { nfsVersion: 3 })).toBe('root=10.0.2.2:/srv/xenroot/t ro ip=dhcp console=ttyS0 selinux=0');
    expect(line('mkinitrd', { nfsOptions: 'nolock' })).toBe('root=10.0.2.2:/srv/xenroot/t rootfstype=nfs4 rootflags=nolock ro ip=dhcp console=ttyS0 selinux=0');
  });
});

describe('user arguments that conflict with generated ones are resolved, not duplicated', () => {
  it('a user ip= replaces ip=dhcp, in its place', () => {
    const l = line('dracut', { extra: ['ip=10.0.2.15::10.0.2.2:255.255.255.0:h::none quiet'] });
    expect(l).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t ro ip=10.0.2.15::10.0.2.2:255.255.255.0:h::none rd.neednet=1 rootovl console=ttyS0 selinux=0 quiet');
    expect(line('builtin', { extra: ['ip=dhcp'] }).match(/ip=/g)).toHaveLength(1);
  });

  it('the node\'s ip= wins over the image\'s; dracut keeps several only when each names its own interface', () => {
    expect(args(line('builtin', { extra: ['ip=dhcp', 'ip=10.1.1.5::10.1.1.1:255.255.255.0:n::none'] })).filter((a) => a.startsWith('ip='))).toEqual(['ip=10.1.1.5::10.1.1.1:255.255.255.0:n::none']);
    expect(args(line('dracut', { extra: ['ip=eth0:dhcp ip=eth1:dhcp'] })).filter((a) => a.startsWith('ip='))).toEqual(['ip=eth0:dhcp', 'ip=eth1:dhcp']);
    expect(() => line('dracut', { extra: ['ip=dhcp ip=eth1:dhcp'] })).toThrow(/distinct interface/);
    expect(() => line('builtin', { extra: ['ip=eth0:dhcp ip=eth1:dhcp'] })).toThrow(/reads one ip=/);
  });

  it('an ip= the initrd cannot honour is refused with the reason', () => {
    expect(() => line('builtin', { extra: ['ip=dhcp6'] })).toThrow(/ip=dhcp6 cannot be honoured/);
    expect(() => line('dracut', { extra: ['ip=10.0.0.5:::::eth0:dhcp'] })).toThrow(/setting client-ip does not make sense/);
    expect(() => line('dracut', { extra: ['ip=bootp'] })).toThrow(/does not support bootp/);
    expect(() => line('initramfs-tools', { extra: ['ip=eth0:dhcp'] })).toThrow(/:::::IFACE:dhcp/);
    for (const d of DIALECTS) expect(() => line(d, { extra: ['ip=off'] })).toThrow(/needs the network/);
  });

  it('BOOTIF= appears once: the last one given; loaders append none of their own then', () => {
    const l = line('builtin', { console: 'pxe', extra: ['BOOTIF=01-52-54-00-00-00-01', 'BOOTIF=01-52-54-00-00-00-02'] });
    expect(args(l).filter((a) => a.startsWith('BOOTIF='))).toEqual(['BOOTIF=01-52-54-00-00-00-02']);
    const entry = { label: 'img', kernel: 'k', initrd: 'i', cmdline: l };
    expect(renderPxelinux({ entries: [entry] })).not.toContain('IPAPPEND');
    expect(renderIpxeEntry(entry).match(/BOOTIF=/g)).toHaveLength(1);
    const plain = { ...entry, cmdline: line('builtin') };
    expect(renderPxelinux({ entries: [plain] })).toContain('IPAPPEND 2');
    expect(renderIpxeEntry(plain)).toContain('BOOTIF=01-${netX/mac:hexhyp}');
  });

  it('a user root= replaces the generated one; nfsroot= alone becomes the root=/dev/nfs pair', () => {
    expect(line('builtin', { extra: ['root=10.9.9.9:/other'] })).toBe('root=10.9.9.9:/other ro ip=dhcp console=ttyS0 selinux=0');
    expect(line('dracut', { extra: ['nfsroot=10.9.9.9:/other,vers=4.2'] })).toMatch(/^root=\/dev\/nfs nfsroot=10\.9\.9\.9:\/other,vers=4\.2 ro /);
    expect(line('initramfs-tools', { nfsVersion: 3, extra: ['root=nfs4:10.9.9.9:/x'] })).toMatch(/^root=nfs4:10\.9\.9\.9:\/x ro /);
    expect(line('mkinitrd', { extra: ['root=10.9.9.9:/x'] })).toBe('root=10.9.9.9:/x ro ip=dhcp console=ttyS0 selinux=0');
  });

  it('refuses two roots in one append, a non-NFS root, and a form the initrd does not read', () => {
    expect(() => line('builtin', { extra: ['root=nfs4:1.1.1.1:/a nfsroot=1.1.1.1:/b'] })).toThrow(/two different roots/);
    expect(() => line('builtin', { extra: ['root=/dev/sda1'] })).toThrow(/not an NFS root/);
    expect(() => line('mkinitrd', { extra: ['nfsroot=1.1.1.1:/b'] })).toThrow(/does not read nfsroot=/);
    expect(() => line('builtin', { extra: ['root=nfs://1.1.1.1/x'] })).toThrow(/does not read this form/);
  });

  it('rw replaces ro, selinux=1 replaces selinux=0, a repeated argument is kept once at its last place', () => {
    expect(line('builtin', { extra: ['rw selinux=1'] })).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t ip=dhcp console=ttyS0 rw selinux=1');
    expect(line('builtin', { console: 'pxe', extra: ['console=ttyS0,115200'] })).toBe('root=nfs4:10.0.2.2:/srv/xenroot/t ro ip=dhcp console=tty0 selinux=0 console=ttyS0,115200');
    expect(line('dracut', { extra: ['rd.shell', 'rd.shell=0 panic=1'] })).toMatch(/ rd\.shell=0 panic=1$/);
  });
});

// ---- property ------------------------------------------------------------------------------

const appendArb = fc.array(fc.constantFrom(...TOKENS), { maxLength: 6 }).map((t) => t.join(' '));
const inputArb = fc.record({
  dialect: fc.constantFrom(...DIALECTS),
  nfsVersion: fc.constantFrom(3 as const, 4 as const),
  console: fc.constantFrom('xen' as const, 'qemu' as const, 'pxe' as const),
  nfsOptions: fc.constantFrom('', 'port=20491', 'vers=4.1,rsize=32768'),
  extra: fc.array(appendArb, { maxLength: 3 }),
});

const SINGLE_KEYS = ['BOOTIF', 'selinux', 'quiet', 'rd.shell', 'panic', 'rd.neednet', 'xenroot.overlay', 'systemd.unit'];

/** Tokens each initrd cannot honour on their own (docs/cmdline.md), written down independently of the code. */
const BAD: Record<CmdlineDialect, string[]> = {
  builtin: ['root=/dev/sda1', 'root=nfs://10.0.0.1/x', 'ip=none', 'ip=dhcp6', 'ip=bootp', 'ip=10.0.0.9:::::eth0:dhcp'],
  dracut: ['root=/dev/sda1', 'root=nfs://10.0.0.1/x', 'ip=none', 'ip=bootp', 'ip=10.0.0.9:::::eth0:dhcp'],
  'initramfs-tools': ['root=/dev/sda1', 'root=nfs://10.0.0.1/x', 'root=dhcp', 'root=nfs4:files.example:/srv/d', 'nfsroot=host.example:/srv/g', 'ip=none', 'ip=dhcp6', 'ip=eth0:dhcp', 'ip=eth1:dhcp'],
  mkinitrd: ['root=/dev/sda1', 'root=nfs4:10.0.0.1:/srv/a', 'root=nfs:10.0.0.2:/srv/b:vers=3,nolock', 'root=/dev/nfs', 'root=dhcp', 'root=nfs://10.0.0.1/x', 'root=nfs4:files.example:/srv/d', 'nfsroot=10.0.0.4:/srv/e,vers=4.2', 'nfsroot=/srv/f', 'nfsroot=host.example:/srv/g', 'ip=none'],
};

/** Whether the contract says this input must be refused: a bad token or a contradiction in the append that decides the root or the ip=. */
function mustRefuse(input: { dialect: CmdlineDialect; extra: string[] }): boolean {
  const d = input.dialect;
  const lastWith = (keys: string[]) => [...input.extra].reverse().map((e) => args(e).filter(Boolean)).find((t) => t.some((x) => keys.includes(argKey(x))));
  const rootSrc = lastWith(['root', 'nfsroot']);
  if (rootSrc) {
    const roots = [...new Set(rootSrc.filter((x) => argKey(x) === 'root'))];
    const nfsroots = [...new Set(rootSrc.filter((x) => argKey(x) === 'nfsroot'))];
    if (roots.length > 1 || nfsroots.length > 1) return true;
    if (nfsroots.length && roots.length && roots[0] !== 'root=/dev/nfs') return true;
    if ([...roots, ...nfsroots].some((x) => BAD[d].includes(x))) return true;
    // nfsroot= names the root; a root=/dev/nfs beside it is only the marker.
    if (nfsroots.length && BAD[d].includes('nfsroot=/srv/f')) return true;
  }
  const ipSrc = lastWith(['ip']);
  if (ipSrc) {
    const ips = [...new Set(ipSrc.filter((x) => argKey(x) === 'ip'))];
    if (ips.some((x) => BAD[d].includes(x))) return true;
    if (ips.length > 1) {
      if (d !== 'dracut') return true;
      const devs = ips.map((x) => parseIp(x.slice(3)).device);
      if (devs.some((x) => !x) || new Set(devs).size !== devs.length) return true;
    }
  }
  // A root without a server takes it from DHCP; static ip= only (without their SERVER field) leave none.
  const SERVERLESS = ['root=/dev/nfs', 'root=dhcp', 'nfsroot=/srv/f'];
  const STATIC_NO_SERVER = ['ip=10.0.0.9::10.0.0.1:255.255.255.0:h::none', 'ip=10.0.0.9::10.0.0.1:255.255.255.0:h:eth0:none'];
  if (rootSrc && ipSrc) {
    const nfsroot = rootSrc.find((x) => argKey(x) === 'nfsroot');
    const root = nfsroot ?? rootSrc.find((x) => argKey(x) === 'root');
    const ips = ipSrc.filter((x) => argKey(x) === 'ip');
    if (root && SERVERLESS.includes(root) && ips.every((x) => STATIC_NO_SERVER.includes(x))) return true;
  }
  return false;
}

describe('property: a generated line never holds two arguments an initrd reads as a contradiction', () => {
  it('per dialect, over random appends: one root (consistent root/nfsroot pair), one ip= unless dracut with distinct interfaces, one BOOTIF, one ro/rw, one of each single-valued setting, and the last user value wins', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        let out: string;
        try {
          out = buildCmdline({ ...base, ...input });
        } catch (err) {
          expect(err).toBeInstanceOf(RenderError);
          expect(mustRefuse(input), `refused: ${(err as Error).message}`).toBe(true);
          return;
        }
        expect(mustRefuse(input), `accepted: ${out}`).toBe(false);
        const a = args(out);
        const of = (k: string) => a.filter((x) => argKey(x) === k);
        // One root, and nfsroot= only beside root=/dev/nfs.
        expect(of('root')).toHaveLength(1);
        if (of('nfsroot').length) {
          expect(of('nfsroot')).toHaveLength(1);
          expect(of('root')).toEqual(['root=/dev/nfs']);
        }
        // ip=
        const ips = of('ip');
        expect(ips.length).toBeGreaterThanOrEqual(1);
        if (ips.length > 1) {
          expect(input.dialect).toBe('dracut');
          const devs = ips.map((x) => parseIp(x.slice(3)).device);
          expect(devs.every(Boolean)).toBe(true);
          expect(new Set(devs).size).toBe(devs.length);
        }
        // Single-valued settings and verbatim repeats.
        for (const k of SINGLE_KEYS) expect(of(k).length, k).toBeLessThanOrEqual(1);
        expect(a.filter((x) => x === 'ro' || x === 'rw').length).toBe(1);
        expect(new Set(a).size).toBe(a.length);
        // The last user value wins.
        const user = input.extra.flatMap((e) => args(e).filter(Boolean));
        for (const k of [...SINGLE_KEYS, 'ro/rw']) {
          const last = user.filter((x) => (k === 'ro/rw' ? x === 'ro' || x === 'rw' : argKey(x) === k)).pop();
          if (last) expect(a, k).toContain(last);
        }
        const lastRootSource = [...input.extra].reverse().find((e) => args(e).some((x) => ['root', 'nfsroot'].includes(argKey(x))));
        if (lastRootSource) {
          const r = args(lastRootSource).filter((x) => argKey(x) === 'root').pop();
          const n = args(lastRootSource).filter((x) => argKey(x) === 'nfsroot').pop();
          expect(of('root')[0]).toBe(r ?? 'root=/dev/nfs');
          if (n) expect(of('nfsroot')[0]).toBe(n);
        }
        const lastIpSource = [...input.extra].reverse().find((e) => args(e).some((x) => argKey(x) === 'ip'));
        if (lastIpSource) expect(ips).toEqual([...new Set(args(lastIpSource).filter((x) => argKey(x) === 'ip'))]);
        else expect(ips).toEqual(['ip=dhcp']);
        // What klibc can mount: IPv4 servers only.
        if (input.dialect === 'initramfs-tools') {
          const spec = (of('nfsroot')[0] ?? of('root')[0]!).replace(/^(nfs)?root=(nfs4?:)?/, '');
          const server = /^([^/:,]+):\//.exec(spec)?.[1];
          if (server) expect(isIPv4(server), out).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('a root without a server needs DHCP to name one', () => {
  it('nfsroot=/PATH (or root=/dev/nfs, root=dhcp) with only a static ip= is refused naming both (dracut died on it: "Server-ip or dhcp for netboot needed")', () => {
    for (const d of ['builtin', 'dracut'] as const) {
      expect(() => line(d, { extra: ['nfsroot=/srv/f ip=10.0.0.9::10.0.0.1:255.255.255.0:h::none'] })).toThrow(/nfsroot=\/srv\/f names no NFS server and ip=10\.0\.0\.9::10\.0\.0\.1:255\.255\.255\.0:h::none is static/);
    }
    // The server in the root, or DHCP, is fine.
    expect(line('dracut', { extra: ['nfsroot=10.0.0.4:/srv/e ip=10.0.0.9::10.0.0.1:255.255.255.0:h::none'] })).toContain('nfsroot=10.0.0.4:/srv/e');
    expect(line('dracut', { extra: ['nfsroot=/srv/f ip=dhcp'] })).toContain('nfsroot=/srv/f');
  });
});
