/**
 * The built-in initrd's reader of the kernel command line (templates/initrd/cmdline.sh), run by
 * the real busybox sh the initrd carries: every NFS-root form an admin may already have, ip=
 * forms, the failure message naming a form it cannot read, and agreement with the command line
 * builder over generated lines (the property the e2e boots then prove on a real kernel).
 */
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildCmdline } from '../../src/render/cmdline.js';

const LIB = fileURLToPath(new URL('../../templates/initrd/cmdline.sh', import.meta.url));
const BUSYBOX = '/bin/busybox';

interface Read {
  ok: boolean;
  problem: string;
  form: string;
  server: string;
  path: string;
  opts: string;
  vers: string;
  ipMode: string;
  ipDevice: string;
  ipClient: string;
  ipPrefix: string;
}

/** Runs the reader over command lines with the given DHCP facts; one busybox process for all. */
function read(lines: string[], dhcp: { siaddr?: string; serverid?: string; rootpath?: string; ip?: string } = {}): Read[] {
  const script = `
. "${LIB}"
while IFS= read -r L; do
  XR_PROBLEM=
  xr_read_cmdline "$L"
  IPADDR='${dhcp.ip ?? '10.0.2.15'}'; DHCP_SIADDR='${dhcp.siaddr ?? ''}'; DHCP_SERVERID='${dhcp.serverid ?? ''}'; DHCP_ROOTPATH='${dhcp.rootpath ?? ''}'
  if xr_root_form && xr_ip_form && xr_root_resolve; then ok=1; else ok=0; fi
  printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$ok" "$XR_PROBLEM" "$ROOTFORM" "$SERVER" "$NFSPATH" "$NFSOPTS" "$NFSVER" "$IP_MODE" "$IP_DEVICE" "$IP_CLIENT" "$IP_PREFIX"
done`;
  const out = execFileSync(BUSYBOX, ['sh', '-c', script], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [ok, problem, form, server, path, opts, vers, ipMode, ipDevice, ipClient, ipPrefix] = l.split('\t');
      return { ok: ok === '1', problem: problem!, form: form!, server: server!, path: path!, opts: opts!, vers: vers!, ipMode: ipMode!, ipDevice: ipDevice!, ipClient: ipClient!, ipPrefix: ipPrefix! };
    });
}
const one = (line: string, dhcp?: Parameters<typeof read>[1]) => read([line], dhcp)[0]!;

describe('the built-in initrd reads every standard NFS-root form (busybox sh, templates/initrd/cmdline.sh)', () => {
  it('root=nfs4:SERVER:/PATH:OPTS and root=nfs:SERVER:/PATH:OPTS; vers= in OPTS wins over the prefix', () => {
    expect(one('root=nfs4:10.0.2.2:/export:port=20491,rsize=32768 ro ip=dhcp')).toMatchObject({ ok: true, server: '10.0.2.2', path: '/export', opts: 'port=20491,rsize=32768', vers: '4' });
    expect(one('root=nfs:10.0.2.2:/srv/img:nolock')).toMatchObject({ ok: true, server: '10.0.2.2', path: '/srv/img', opts: 'nolock', vers: '3' });
    expect(one('root=nfs:10.0.2.2:/srv/img:vers=4.1')).toMatchObject({ vers: '4' });
    expect(one('root=nfs4:files.example:/x')).toMatchObject({ ok: true, server: 'files.example' });
  });

  it('the kernel\'s root=/dev/nfs nfsroot=SERVER:PATH,OPTS, and nfsroot= without root=', () => {
    expect(one('root=/dev/nfs nfsroot=10.0.2.2:/srv/img,vers=4.2,port=20491')).toMatchObject({ ok: true, form: 'nfsroot', server: '10.0.2.2', path: '/srv/img', opts: 'vers=4.2,port=20491', vers: '4' });
    expect(one('nfsroot=10.0.2.2:/srv/img,tcp')).toMatchObject({ ok: true, server: '10.0.2.2', vers: '3', opts: 'tcp' });
  });

  it('a missing server comes from DHCP: the root-path\'s server, else next-server, else the server id; %s is the client address', () => {
    expect(one('nfsroot=/srv/img,vers=4', { siaddr: '10.0.2.2', serverid: '10.0.2.3' })).toMatchObject({ ok: true, server: '10.0.2.2', path: '/srv/img' });
    expect(one('nfsroot=/srv/img', { siaddr: '0.0.0.0', serverid: '10.0.2.3' })).toMatchObject({ server: '10.0.2.3' });
    expect(one('nfsroot=/srv/%s', { rootpath: '10.9.9.9:/other', serverid: '10.0.2.3', ip: '10.0.2.15' })).toMatchObject({ server: '10.9.9.9', path: '/srv/10.0.2.15' });
    expect(one('nfsroot=/srv/img').ok).toBe(false);
    expect(one('nfsroot=/srv/img').problem).toMatch(/no NFS server/);
  });

  it('root=/dev/nfs and root=dhcp alone take the DHCP root-path ([SERVER:]PATH[,OPTS] or nfs4:...), else /tftpboot/%s', () => {
    expect(one('root=/dev/nfs', { rootpath: '10.0.2.2:/srv/img,vers=4', serverid: '10.0.2.3' })).toMatchObject({ ok: true, server: '10.0.2.2', path: '/srv/img', vers: '4' });
    expect(one('root=dhcp', { rootpath: 'nfs4:10.0.2.2:/srv/img:port=2049' })).toMatchObject({ ok: true, server: '10.0.2.2', path: '/srv/img', opts: 'port=2049', vers: '4' });
    expect(one('root=/dev/nfs', { siaddr: '10.0.2.2', ip: '10.0.2.15' })).toMatchObject({ ok: true, server: '10.0.2.2', path: '/tftpboot/10.0.2.15', vers: '3' });
  });

  it('the HOWTO\'s root=SERVER:/PATH (NFSv3, options after a colon)', () => {
    expect(one('root=10.0.2.2:/srv/img')).toMatchObject({ ok: true, server: '10.0.2.2', path: '/srv/img', vers: '3', opts: '' });
    expect(one('root=10.0.2.2:/srv/img:vers=4.2')).toMatchObject({ vers: '4', opts: 'vers=4.2' });
  });

  it('a form it cannot read fails with a line naming it and the forms it reads', () => {
    expect(one('root=/dev/sda1').problem).toMatch(/^root=\/dev\/sda1 is not an NFS root this initrd reads \(reads: root=nfs:SERVER/);
    expect(one('console=ttyS0').problem).toMatch(/no root= or nfsroot=/);
    expect(one('root=nfs4:10.0.2.2:/a nfsroot=10.0.2.2:/b').problem).toMatch(/name two roots/);
    expect(one('root=nfs:10.0.2.2:relative').problem).toMatch(/must start with \//);
    expect(one('root=nfs:10.0.2.2:/x:vers=2').problem).toMatch(/NFSv2/);
  });
});

describe('ip= in the built-in initrd', () => {
  it('dhcp (default), IFACE:dhcp, :::::IFACE:dhcp, and the static kernel form with a dotted mask', () => {
    expect(one('root=nfs4:1.1.1.1:/x')).toMatchObject({ ok: true, ipMode: 'dhcp', ipDevice: '' });
    expect(one('root=nfs4:1.1.1.1:/x ip=eth1:dhcp')).toMatchObject({ ipMode: 'dhcp', ipDevice: 'eth1' });
    expect(one('root=nfs4:1.1.1.1:/x ip=:::::eth1:dhcp')).toMatchObject({ ipMode: 'dhcp', ipDevice: 'eth1' });
    expect(one('root=nfs4:1.1.1.1:/x ip=10.0.2.15::10.0.2.2:255.255.255.0:h::none')).toMatchObject({ ok: true, ipMode: 'static', ipClient: '10.0.2.15', ipPrefix: '24', ipDevice: '' });
    expect(one('nfsroot=/x ip=10.0.2.15:10.0.2.2:10.0.2.2:255.255.0.0::eth0:off')).toMatchObject({ ok: true, server: '10.0.2.2', ipPrefix: '16', ipDevice: 'eth0' });
  });

  it('refuses what it cannot honour, naming it', () => {
    expect(one('root=nfs4:1.1.1.1:/x ip=dhcp6').problem).toMatch(/^ip=dhcp6 is not supported/);
    expect(one('root=nfs4:1.1.1.1:/x ip=off').problem).toMatch(/needs the network/);
    expect(one('root=nfs4:1.1.1.1:/x ip=10.0.0.5:::::eth0:dhcp').problem).toMatch(/contradiction/);
    expect(one('root=nfs4:1.1.1.1:/x ip=10.0.0.5::::h::none').problem).toMatch(/needs a netmask/);
  });
});

describe('property: what the builder writes for the built-in initrd is what the initrd reads', () => {
  it('generated built-in lines (random server, path, version, options, user root/ip appends) read back as the same root', () => {
    const arb = fc.record({
      server: fc.constantFrom('10.0.2.2', '192.168.1.10', 'nfs.lab.example'),
      path: fc.stringMatching(/^(\/[a-z0-9_.-]{1,8}){1,3}$/),
      nfsVersion: fc.constantFrom(3 as const, 4 as const),
      nfsOptions: fc.constantFrom('', 'port=20491', 'vers=4.1,rsize=32768', 'nolock,tcp'),
      append: fc.constantFrom('', 'ip=dhcp', 'root=10.9.9.9:/howto', 'nfsroot=10.9.9.9:/kernel,vers=4.2', 'ip=:::::eth0:dhcp quiet', 'root=nfs:10.9.9.9:/n:nolock'),
    });
    const cases = fc.sample(arb, 150);
    const lines = cases.map((c) => buildCmdline({ ...c, console: 'qemu', dialect: 'builtin', extra: [c.append] }));
    const got = read(lines);
    cases.forEach((c, i) => {
      const r = got[i]!;
      expect(r.ok, `${lines[i]}: ${r.problem}`).toBe(true);
      const want =
        c.append.startsWith('root=10.9.9.9:/howto') ? { server: '10.9.9.9', path: '/howto', vers: '3' }
        : c.append.startsWith('nfsroot=') ? { server: '10.9.9.9', path: '/kernel', vers: '4' }
        : c.append.startsWith('root=nfs:10.9.9.9') ? { server: '10.9.9.9', path: '/n', vers: '3' }
        : { server: c.server, path: c.path, vers: /vers=4/.test(c.nfsOptions) ? '4' : String(c.nfsVersion) };
      expect(r, lines[i]).toMatchObject(want);
    });
  });
});
