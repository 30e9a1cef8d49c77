/**
 * The built-in initrd boots each standard NFS-root form (issue 11), one QEMU boot per form, all
 * started at once (one batch): the tiny image over nfs-ganesha, NFSv4 on loopback and NFSv3 in the
 * server's network namespace (rpcbind). Each case checks the mount options in /proc/mounts of the
 * booted guest (the tiny image's init prints its NFS mounts as `xenroot-root:` lines).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';
import { bootQemu, stopAllQemu } from '../support/qemu.js';

let fx: TinyFixture;
let work: string;
let initrd: string;
let v4: NfsServer;
let v3: NfsServer;
/** Console text of each case, booted together in beforeAll. */
const consoles = new Map<string, string>();

interface Case {
  name: string;
  append: (o: { port: number; dir: string }) => string;
  v3?: boolean;
  /** What ends the boot: the image's marker, or the initrd halting. */
  until?: RegExp;
}

const CASES: Case[] = [
  { name: 'root=nfs4:SERVER:/PATH:OPTS', append: ({ port }) => `root=nfs4:10.0.2.2:/export:port=${port},rsize=32768,wsize=32768` },
  { name: 'root=/dev/nfs nfsroot=SERVER:PATH,OPTS', append: ({ port }) => `root=/dev/nfs nfsroot=10.0.2.2:/export,vers=4.1,port=${port},timeo=300` },
  { name: 'nfsroot=PATH,OPTS alone (server from DHCP)', append: ({ port }) => `nfsroot=/export,vers=4.2,port=${port},acregmin=5` },
  { name: 'root=nfs:SERVER:/PATH:OPTS (v3)', v3: true, append: ({ dir }) => `root=nfs:10.0.2.2:${dir}:rsize=65536` },
  { name: 'root=SERVER:/PATH (the HOWTO, v3) with a static ip=', v3: true, append: ({ dir }) => `root=10.0.2.2:${dir} ip=10.0.2.15::10.0.2.2:255.255.255.0:xr-static::none` },
  { name: 'an unreadable root=', until: /xenroot-initrd: halting/, append: () => 'root=/dev/sda1' },
];

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-nfsroot-forms-'));
  initrd = (await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'qemu', out: join(work, 'initrd-qemu.gz') })).path;
  [v4, v3] = await Promise.all([
    startNfsServer({ exports: [{ path: fx.imageDir }] }),
    startNfsServer({ exports: [{ path: fx.imageDir }], versions: [3], netns: true }),
  ]);
  const t0 = Date.now();
  await Promise.all(
    CASES.map(async (c) => {
      const append = `console=ttyS0 quiet panic=-1 ro ${c.append({ port: v4.port, dir: fx.imageDir })}`;
      const vm = await bootQemu({ kernel: fx.kernel.vmlinuz, initrd, append, memory: 256, mac: '52:54:00:12:34:56', ...(c.v3 ? { netns: v3.netns! } : {}) });
      try {
        await vm.waitFor(c.until ?? new RegExp(fx.marker), 240_000);
      } catch (err) {
        consoles.set(c.name, `${vm.console()}\n(boot ended: ${(err as Error).message.split('\n')[0]})`);
        return;
      } finally {
        await vm.stop();
      }
      consoles.set(c.name, vm.console().replace(/\r/g, ''));
    }),
  );
  console.log(`${CASES.length} NFS-root forms booted in one batch: ${Date.now() - t0} ms`);
}, 600_000);

afterAll(async () => {
  await stopAllQemu();
  await v4?.stop();
  await v3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const out = (name: string): string => consoles.get(name) ?? '';
/** The /proc/mounts line of the NFS lower layer, as the tiny image printed it. */
const nfsMount = (name: string): string => /^xenroot-root: 10\.0\.2\.2:\S+ \/run\/xenroot\/lower (nfs4?) (\S+)/m.exec(out(name))?.[0] ?? `(no NFS mount in:\n${out(name).slice(-1500)})`;

describe('the built-in initrd boots each standard NFS-root form (one QEMU batch, mount options read back from /proc/mounts)', () => {
  it('root=nfs4:SERVER:/PATH:OPTS: NFSv4 with port=, rsize= and wsize= as given', () => {
    const m = nfsMount(CASES[0]!.name);
    expect(m).toMatch(/ nfs4 ro,/);
    expect(m).toMatch(/rsize=32768,wsize=32768/);
    // The kernel lists port= only when it is not NFS's 2049.
    if (v4.port !== 2049) expect(m).toMatch(new RegExp(`port=${v4.port}`));
    expect(out(CASES[0]!.name)).toContain(fx.marker);
  });

  it('root=/dev/nfs nfsroot=SERVER:PATH,OPTS: the kernel form, vers=4.1 and timeo= honoured', () => {
    const m = nfsMount(CASES[1]!.name);
    expect(m).toMatch(/ nfs4 ro,.*vers=4\.1,/);
    expect(m).toMatch(/timeo=300/);
  });

  it('nfsroot=PATH,OPTS without root= and without a server: the server is the DHCP server, vers=4.2 and acregmin= honoured', () => {
    const o = out(CASES[2]!.name);
    expect(o).toMatch(/xenroot-initrd: mounting 10\.0\.2\.2:\/export \(nfs4, /);
    const m = nfsMount(CASES[2]!.name);
    expect(m).toMatch(/vers=4\.2,/);
    expect(m).toMatch(/acregmin=5/);
  });

  it('root=nfs:SERVER:/PATH:OPTS: NFSv3 (rpcbind in the server\'s namespace), rsize= and the default nolock', () => {
    const m = nfsMount(CASES[3]!.name);
    expect(m).toMatch(/ nfs ro,.*vers=3,.*rsize=65536/);
    expect(m).toMatch(/nolock/);
  });

  it('root=SERVER:/PATH (the HOWTO\'s form) mounts NFSv3, with the static ip= address and host name', () => {
    const o = out(CASES[4]!.name);
    expect(o).toContain('xenroot-initrd: address 10.0.2.15 on eth0 via 10.0.2.2');
    expect(nfsMount(CASES[4]!.name)).toMatch(/ nfs ro,.*vers=3/);
    expect(o).toContain(fx.marker);
  });

  it('a root= it cannot read ends the boot with a line naming it', () => {
    const o = out(CASES[5]!.name);
    expect(o).toMatch(/xenroot-initrd: FAILED at cmdline: root=\/dev\/sda1 is not an NFS root this initrd reads/);
    expect(o).not.toContain(fx.marker);
  });
});
