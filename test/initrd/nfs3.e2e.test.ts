/**
 * NFSv3 root: v3 needs rpcbind, which listens on every address, so the whole setup runs inside a
 * network namespace (and a private mount namespace for rpcbind's /run) that this test creates:
 * rpcbind, nfs-ganesha (v3+v4) and QEMU with user networking; the guest mounts the export's
 * Path with root=nfs:10.0.2.2:PATH (nolock is added by the initrd). The script stops its three
 * processes by PID; the test deletes the namespace.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { tinyImage, type TinyFixture } from '../support/kernel.js';

let fx: TinyFixture;
let work: string;
const ns = `xenroot-nfs3-${process.pid}`;

beforeAll(async () => {
  fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-initrd-nfs3-'));
  await execa('ip', ['netns', 'add', ns]);
});

afterAll(async () => {
  await execa('ip', ['netns', 'del', ns], { reject: false });
  if (work) await rm(work, { recursive: true, force: true });
});

function script(initrd: string, append: string): string {
  return `
set -u
W=${work}
trap 'kill $QP $GP $RP 2>/dev/null; wait' EXIT INT TERM
QP=; GP=; RP=
ip link set lo up
# getaddrinfo(AI_ADDRCONFIG) wants a non-loopback address of each family before ganesha can bind.
ip link add d0 type dummy && ip addr add 192.0.2.1/32 dev d0 && ip -6 addr add 2001:db8::1/128 dev d0 nodad && ip link set d0 up
mount -t tmpfs tmpfs /run && mkdir -p /run/rpcbind
rpcbind -f -w & RP=$!
sleep 1
ganesha.nfsd -F -f $W/ganesha.conf -L $W/ganesha.log -p $W/ganesha.pid -N NIV_EVENT & GP=$!
for i in $(seq 60); do rpcinfo -p 127.0.0.1 2>/dev/null | grep -q mountd && break; sleep 0.5; done
qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -nodefaults -serial stdio \\
  -kernel ${fx.kernel.vmlinuz} -initrd ${initrd} -append 'console=ttyS0 quiet panic=-1 ${append}' \\
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0 </dev/null >$W/console.txt 2>&1 & QP=$!
for i in $(seq 240); do grep -aqE '${fx.marker}|xenroot-initrd: halting' $W/console.txt && break; kill -0 $QP 2>/dev/null || break; sleep 0.5; done
`;
}

describe('booting the tiny image over NFSv3 with the built-in initrd', () => {
  it('mounts the v3 export with nolock (rpcbind and ganesha in a private network namespace) and reaches the marker', async () => {
    const initrd = (await buildBuiltinInitrd({ imageRoot: fx.imageDir, target: 'qemu', out: join(work, 'initrd.gz') })).path;
    await writeFile(join(work, 'ganesha.conf'), `
NFS_CORE_PARAM { Protocols = 3, 4; Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false; }
NFSV4 { Graceless = true; RecoveryRoot = ${work}/recov; Only_Numeric_Owners = true; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT { Export_Id = 1; Path = ${fx.imageDir}; Pseudo = /export; Access_Type = RO; Squash = No_Root_Squash;
         Protocols = 3, 4; Transports = TCP; FSAL { Name = VFS; } }
`);
    await execa('ip', ['netns', 'exec', ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c',
      script(initrd, `root=nfs:10.0.2.2:${fx.imageDir} ip=dhcp ro`)], { timeout: 170_000, reject: false });
    const out = (await readFile(join(work, 'console.txt'), 'utf8').catch(() => '')).replace(/\r/g, '');
    expect(out, out.slice(-2000)).toContain(fx.marker);
    expect(out).toMatch(/xenroot-initrd: mounting 10\.0\.2\.2:\S+ \(nfs, ro,addr=10\.0\.2\.2,vers=3,nolock,/);
    expect(out).toMatch(/^xenroot-root: 10\.0\.2\.2:\S+ \/run\/xenroot\/lower nfs ro,.*vers=3/m);
  });
});
