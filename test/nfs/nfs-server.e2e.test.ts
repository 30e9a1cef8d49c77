// The private NFS server: real nfs-ganesha on loopback, stopped by PID; a real guest mounts it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeployError } from '../../src/sys/errors.js';
import { startNfsServer, sweepStaleNetns, type NfsServer } from '../../src/deploy/nfs-server.js';
import { prepareKernel } from '../../src/image/debian.js';
import { buildBuiltinInitrd } from '../../src/initrd/builtin.js';
import { leaksSince, listNetns, listProcesses, ownDaemons, snapshot, type LeakSnapshot } from '../support/leaks.js';
import { bootQemu, stopAllQemu } from '../support/qemu.js';

let scratch: string;
let roDir: string;
let rwDir: string;
const started: NfsServer[] = [];

let before: LeakSnapshot;

beforeAll(async () => {
  before = await snapshot();
  scratch = await mkdtemp(join(tmpdir(), 'xenroot-nfstest-'));
  roDir = join(scratch, 'image');
  rwDir = join(scratch, 'proof');
  await mkdir(roDir);
  await mkdir(rwDir);
  await writeFile(join(roDir, 'hello.txt'), 'hello from the ganesha export\n');
});

afterAll(async () => {
  await stopAllQemu();
  await Promise.all(started.map((s) => s.stop()));
  expect(await ownDaemons()).toEqual([]);
  // Own daemons and any xenroot-nfs network namespace this file made are gone.
  const leaks = await leaksSince(before, { paths: [scratch] });
  expect(leaks.processes).toEqual([]);
  expect(leaks.netns.filter((n) => n.startsWith(`xenroot-nfs-${process.pid}-`))).toEqual([]);
  await rm(scratch, { recursive: true, force: true });
});

async function start(...args: Parameters<typeof startNfsServer>): Promise<NfsServer> {
  const s = await startNfsServer(...args);
  started.push(s);
  return s;
}

const alive = async (pid: number) => (await listProcesses()).some((p) => p.pid === pid);

/** Listening TCP sockets in /proc/net/tcp{,6} for a port: local address (hex) per line. */
async function listeners(port: number): Promise<string[]> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const t of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(t, 'utf8')).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.endsWith(`:${hex}`)) out.push(f[1]);
    }
  }
  return out;
}

/** The Debian kernel and the probe initrd (built once per file). */
let probeBuilt: Promise<{ kernel: Awaited<ReturnType<typeof prepareKernel>>; initrd: string }> | undefined;
function probe() {
  probeBuilt ??= (async () => {
    const kernel = await prepareKernel();
    const initrd = join(scratch, 'probe.img');
    await buildBuiltinInitrd({
      imageRoot: kernel.root,
      modulesDir: kernel.modulesDir,
      kver: kernel.kver,
      target: 'qemu',
      out: initrd,
      templatesDir: fileURLToPath(new URL('./probe-initrd/', import.meta.url)),
    });
    return { kernel, initrd };
  })();
  return probeBuilt;
}

describe('private NFS server (nfs-ganesha)', () => {
  it('serves NFSv4 on 127.0.0.1 only, on a port that accepts TCP, and stops by PID', async () => {
    const nfs = await start({ exports: [{ path: roDir }, { path: rwDir, rw: true }] });
    expect(nfs.exports.map((e) => [e.pseudo, e.access])).toEqual([
      ['/export', 'RO'],
      ['/export2', 'RW'],
    ]);
    expect(await alive(nfs.pid)).toBe(true);
    const socks = await listeners(nfs.port);
    expect(socks.length).toBeGreaterThan(0);
    // IPv4 127.0.0.1 is 0100007F; as an IPv4-mapped IPv6 address ...FFFF00000100007F.
    for (const s of socks) expect(s).toMatch(/(^|FFFF0000)0100007F:/);
    const conf = await readFile(nfs.configFile, 'utf8');
    expect(conf).toContain('Graceless = true;');
    expect(conf).toContain(`NFS_Port = ${nfs.port};`);
    const workDir = nfs.workDir;
    const t0 = Date.now();
    await nfs.stop();
    const stopMs = Date.now() - t0;
    expect(await alive(nfs.pid)).toBe(false);
    expect(existsSync(workDir)).toBe(false);
    console.log(`ganesha stop took ${stopMs} ms`);
  });

  it('takes 2049 when it is free and another free port when it is not, so two servers run side by side', async () => {
    const a = await start({ exports: [{ path: roDir }] });
    const b = await start({ exports: [{ path: roDir }] });
    expect(a.port).not.toBe(b.port);
    expect([a.port, b.port]).not.toContain(0);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('fails with a DeployError when an explicitly asked port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((res) => holder.listen({ host: '127.0.0.1', port: 0 }, () => res()));
    const port = (holder.address() as { port: number }).port;
    try {
      await expect(startNfsServer({ exports: [{ path: roDir }], port })).rejects.toThrow(DeployError);
      await expect(startNfsServer({ exports: [{ path: roDir }], port })).rejects.toThrow(/already in use/);
    } finally {
      holder.close();
    }
    expect(await ownDaemons()).toEqual([]);
  });

  it('refuses a missing export directory and a non-loopback bind address before starting anything', async () => {
    await expect(startNfsServer({ exports: [{ path: join(scratch, 'nope') }] })).rejects.toThrow(/not an existing directory/);
    await expect(startNfsServer({ exports: [{ path: roDir }], bindAddr: '0.0.0.0' })).rejects.toThrow(/not a loopback/);
    expect(await ownDaemons()).toEqual([]);
  });

  it('fails clearly, with the log tail, when ganesha cannot create an export, and leaves no process', async () => {
    // /proc is a filesystem the VFS backend cannot export.
    const err = await startNfsServer({ exports: [{ path: '/proc/sys' }], startTimeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect((err as Error).message).toMatch(/ganesha.nfsd rejected its configuration: .*\/proc\/sys/);
    expect((err as Error).message.split('\n').length).toBeGreaterThan(1);
    expect(await ownDaemons()).toEqual([]);
  });

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGKILL'] as const) {
    it(`stops ganesha when its parent process gets ${sig}`, async () => {
      const mod = fileURLToPath(new URL('../../dist/deploy/nfs-server.js', import.meta.url));
      const script = `
        import { startNfsServer } from ${JSON.stringify(mod)};
        const s = await startNfsServer({ exports: [{ path: ${JSON.stringify(roDir)} }] });
        console.log('PID ' + s.pid);
        setInterval(() => {}, 1000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, s) => res(s)));
      try {
        const pid = await new Promise<number>((res, rej) => {
          const t = setInterval(() => {
            const m = /PID (\d+)/.exec(out);
            if (m) {
              clearInterval(t);
              res(Number(m[1]));
            } else if (child.exitCode !== null) {
              clearInterval(t);
              rej(new Error(`child exited: ${out}`));
            }
          }, 50);
        });
        expect(await alive(pid)).toBe(true);
        child.kill(sig);
        expect(await exited).toBe(sig);
        for (let i = 0; i < 100 && (await alive(pid)); i++) await new Promise((r) => setTimeout(r, 100));
        expect(await alive(pid)).toBe(false);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }

  // QEMU under TCG on a shared 2-core machine: generous limits, no wall-clock claim.
  it('is mounted over NFSv4 by a real guest through 10.0.2.2 and port=N: reads the RO export, writes the RW one', { timeout: 400_000 }, async () => {
    const { kernel, initrd } = await probe();
    // A port other than 2049, so the guest's mount must really use port=N (2049 is not shown in /proc/mounts).
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen({ host: '127.0.0.1', port: 0 }, () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const nfs = await start({ exports: [{ path: roDir }, { path: rwDir, rw: true }], port });
    const vm = await bootQemu({
      kernel: kernel.vmlinuz,
      initrd,
      append: `console=ttyS0 quiet panic=-1 nfsprobe.port=${nfs.port} nfsprobe.ro=/export nfsprobe.rw=/export2`,
      mac: '52:54:00:12:34:56',
    });
    try {
      const r = await vm.waitFor(/probe: done/, 300_000);
      const text = vm.console();
      expect(text).toMatch(new RegExp(`probe: mounted /export: 10\\.0\\.2\\.2:/export /ro nfs4 ro,.*port=${nfs.port}`));
      expect(text).toContain('probe: file says: hello from the ganesha export');
      expect(text).toContain('probe: ro export refused a write');
      expect(text).toContain('probe: wrote proof to /export2');
      expect(await readFile(join(rwDir, 'proof.txt'), 'utf8')).toBe('written by the guest as uid 0\n');
      console.log(`guest mounted the export and finished in ${r.ms} ms`);
      await vm.exited();
    } finally {
      await vm.stop();
      await nfs.stop();
    }
  });

  // QEMU under TCG on a shared 2-core machine: generous limits, no wall-clock claim.
  it('is mounted by a PXE client (iPXE ROM, QEMU TFTP, pxelinux picking the 01-<mac> file)', { timeout: 400_000 }, async () => {
    const { kernel, initrd } = await probe();
    const tftp = join(scratch, 'tftp');
    await mkdir(join(tftp, 'pxelinux.cfg'), { recursive: true });
    await copyFile('/usr/lib/PXELINUX/pxelinux.0', join(tftp, 'pxelinux.0'));
    await copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', join(tftp, 'ldlinux.c32'));
    await copyFile(kernel.vmlinuz, join(tftp, 'vmlinuz'));
    await copyFile(initrd, join(tftp, 'initrd.img'));
    const nfs = await start({ exports: [{ path: roDir }] });
    const entry = (via: string) =>
      `DEFAULT probe\nPROMPT 0\nTIMEOUT 1\nLABEL probe\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img console=ttyS0 quiet panic=-1 nfsprobe.via=${via} nfsprobe.port=${nfs.port} nfsprobe.ro=/export\n`;
    await writeFile(join(tftp, 'pxelinux.cfg', '01-52-54-00-12-34-57'), entry('mac'));
    await writeFile(join(tftp, 'pxelinux.cfg', 'default'), entry('default'));
    const vm = await bootQemu({ pxe: { tftp, bootfile: 'pxelinux.0' }, mac: '52:54:00:12:34:57' });
    try {
      const r = await vm.waitFor(/probe: done/, 300_000);
      expect(vm.console()).toContain('nfsprobe.via=mac');
      expect(vm.console()).toContain('probe: file says: hello from the ganesha export');
      console.log(`PXE client mounted the export and finished in ${r.ms} ms`);
    } finally {
      await vm.stop();
      await nfs.stop();
    }
  });

  it('refuses NFSv3 outside a private network namespace (rpcbind would listen on every address)', async () => {
    await expect(startNfsServer({ exports: [{ path: roDir }], versions: [3, 4] })).rejects.toThrow(/NFSv3 needs rpcbind/);
    expect(await ownDaemons()).toEqual([]);
  });

  // QEMU under TCG on a shared 2-core machine: generous limits, no wall-clock claim.
  it('serves NFSv3 and v4 with rpcbind inside a network namespace it makes, to a guest in that namespace, and removes it all', { timeout: 400_000 }, async () => {
    const { kernel, initrd } = await probe();
    const nfs = await start({ exports: [{ path: roDir }], versions: [3, 4], netns: true });
    const ns = nfs.netns as string;
    const rpcbind = nfs.rpcbindPid as number;
    try {
      expect(ns).toMatch(/^xenroot-nfs-/);
      expect(await listNetns()).toContain(ns);
      expect(rpcbind).toBeGreaterThan(0);
      const hostNet = await readlink('/proc/self/ns/net');
      expect(await readlink(`/proc/${rpcbind}/ns/net`)).not.toBe(hostNet);
      expect(await readlink(`/proc/${nfs.pid}/ns/net`)).not.toBe(hostNet);
      const vm = await bootQemu({
        kernel: kernel.vmlinuz,
        initrd,
        netns: ns,
        append: `console=ttyS0 quiet panic=-1 nfsprobe.port=${nfs.port} nfsprobe.ro=/export nfsprobe.v3=${roDir}`,
      });
      try {
        const r = await vm.waitFor(/probe: done/, 300_000);
        expect(vm.console()).toMatch(new RegExp(`probe: v3 mounted ${roDir}: 10\\.0\\.2\\.2:${roDir} /v3 nfs ro,.*vers=3`));
        expect(vm.console()).toContain('probe: v3 file says: hello from the ganesha export');
        expect(vm.console()).toContain('probe: file says: hello from the ganesha export');
        console.log(`guest in the namespace mounted v3 and v4 in ${r.ms} ms`);
      } finally {
        await vm.stop();
      }
    } finally {
      await nfs.stop();
    }
    expect(await alive(nfs.pid)).toBe(false);
    // rpcbind was ganesha's child: once ganesha is gone, init reaps it (it may linger as a zombie briefly).
    for (let i = 0; i < 100 && (await alive(rpcbind)); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await alive(rpcbind)).toBe(false);
    expect(await listNetns()).not.toContain(ns);
  });

  it('a netns server whose parent is SIGKILLed dies with it, and sweepStaleNetns removes the namespace left behind', async () => {
    const mod = fileURLToPath(new URL('../../dist/deploy/nfs-server.js', import.meta.url));
    const script = `
      import { startNfsServer } from ${JSON.stringify(mod)};
      const s = await startNfsServer({ exports: [{ path: ${JSON.stringify(roDir)} }], versions: [3, 4], netns: true });
      console.log('UP ' + s.pid + ' ' + s.rpcbindPid + ' ' + s.netns);
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    try {
      const [pid, rpcbind, ns] = await new Promise<[number, number, string]>((res, rej) => {
        const t = setInterval(() => {
          const m = /UP (\d+) (\d+) (\S+)/.exec(out);
          if (m) {
            clearInterval(t);
            res([Number(m[1]), Number(m[2]), m[3] as string]);
          } else if (child.exitCode !== null) {
            clearInterval(t);
            rej(new Error(`child exited: ${out}`));
          }
        }, 50);
      });
      child.kill('SIGKILL');
      await exited;
      for (let i = 0; i < 100 && ((await alive(pid)) || (await alive(rpcbind))); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await alive(pid)).toBe(false);
      expect(await alive(rpcbind)).toBe(false);
      expect(await listNetns()).toContain(ns);
      expect(await sweepStaleNetns()).toContain(ns);
      expect(await listNetns()).not.toContain(ns);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
