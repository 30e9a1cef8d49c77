/**
 * The private NFS server of `xenroot test --serve-nfs` (and `xenroot demo`) serves the image with
 * no_root_squash for the length of the run. From the attacker's side, on the same host while the
 * run serves: root in the host's network namespace finds no socket of the server to connect to,
 * and neither root nor an unprivileged user can read the export with a userspace NFS client
 * (libnfs's nfs-ls: this kernel may have no NFS client to mount with). The throwaway guest still
 * boots from it. The image holds a file with a random name, so a listing of some other NFS server
 * on the same port (another run's) is never taken for this one's.
 * Root only (libvirtd, ganesha, network namespaces).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/sys/proc.js';
import { XENROOT } from '../support/cli.js';
import { smallTinyTree, tinyImage } from '../support/kernel.js';

let work: string;
let inventory: string;
const secret = `xenroot-probe-${randomBytes(6).toString('hex')}`;
const NOBODY = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups'];

beforeAll(async () => {
  const fx = await tinyImage();
  work = await mkdtemp(join(tmpdir(), 'xenroot-private-nfs-'));
  const tree = join(work, 'tree');
  const { kver } = await smallTinyTree(tree, ['qemu']);
  await writeFile(join(tree, secret), 'only the throwaway guest may read this\n');
  inventory = join(work, 'inventory.yaml');
  const env = { XENROOT_STATE_DIR: join(work, 'state') };
  await execa('node', [XENROOT, '-i', inventory, 'init', '--nfs-server', '10.0.2.2', '--allow', '10.0.2.0/24', '--boot-dir', join(work, 'boot')], { env });
  await execa('node', [XENROOT, '-i', inventory, 'image', 'add', 'tiny', '--root', tree, '--kver', kver, '--ready-pattern', fx.marker], { env });
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Probe {
  who: 'root' | 'nobody';
  port: number;
  exitCode: number | undefined;
  listing: string;
}

/** nfs-ls of the export's root at 127.0.0.1:PORT as root or as nobody. */
async function listExport(who: Probe['who'], port: number): Promise<Probe> {
  const url = `nfs://127.0.0.1/export?version=4&nfsport=${port}`;
  const cmd = who === 'root' ? ['nfs-ls', url] : [...NOBODY, 'nfs-ls', url];
  // A server that never answers must not stall the test: killed after 30 s, counted as not read.
  const r = await execa(cmd[0] as string, cmd.slice(1), { reject: false, timeout: 30_000 });
  return { who, port, exitCode: r.exitCode, listing: `${String(r.stdout)}\n${String(r.stderr)}` };
}

describe('the private NFS server of `xenroot test --serve-nfs`', () => {
  it('is reachable only by the throwaway guest: no host socket to connect to, no export listing for root or an unprivileged user, and the guest boots from it', async () => {
    const tmp = join(work, 'tmp');
    await mkdir(tmp, { recursive: true });
    const child = spawn(process.execPath, [XENROOT, '-i', inventory, '--json', 'test', 'tiny', '--serve-nfs', '--timeout', '300'], {
      env: { ...process.env, TMPDIR: tmp, XENROOT_LOG_JSON: '1', XENROOT_LOG_LEVEL: 'debug', XENROOT_STATE_DIR: join(work, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let server: { pid: number; port: number } | undefined;
    let attacked: Promise<{ listeners: string[]; probes: Probe[]; servingAfter: boolean }> | undefined;
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of stderr.split('\n')) {
        if (!server && line.includes('"msg":"NFS server ready"')) {
          const j = JSON.parse(line) as { pid: number; port: number };
          server = { pid: j.pid, port: j.port };
        }
        // The guest is booting from the server: attack it now, once.
        if (server && !attacked && line.includes('"step":"wait"')) {
          const s = server;
          attacked = (async () => {
            const ss = await execa('ss', ['-Hltnp'], { reject: false });
            const listeners = String(ss.stdout)
              .split('\n')
              .filter((l) => l.includes(`pid=${s.pid},`));
            const probes: Probe[] = [];
            for (const port of new Set([s.port, 2049])) for (const who of ['root', 'nobody'] as const) probes.push(await listExport(who, port));
            return { listeners, probes, servingAfter: pidAlive(s.pid) };
          })();
        }
      }
    });
    const code = await exited;
    expect(server, `the run never reported its NFS server:\n${stderr.slice(-3000)}`).toBeDefined();
    expect(attacked, `the run never reached its boot wait:\n${stderr.slice(-3000)}`).toBeDefined();
    const a = await attacked!;
    // The attacks ran while the server served (it was still up after the last one).
    expect(a.servingAfter, 'the NFS server was still running after the probes').toBe(true);
    // Each attack is judged on its own (soft), so a run that lets them through shows every one.
    // Root in the host's network namespace: the server holds no listening socket there.
    expect.soft(a.listeners, 'sockets of the NFS server listening in the host network namespace').toEqual([]);
    // Neither root nor nobody can list the export (the image's file with a random name).
    for (const p of a.probes) expect.soft(p.listing, `${p.who} listed the export on 127.0.0.1:${p.port}`).not.toContain(secret);
    // And the guest reached it: the image booted from this server to its readiness line.
    expect(code, `exit code\n${stdout}\n${stderr.slice(-3000)}`).toBe(0);
    expect((JSON.parse(stdout) as { pass: boolean }).pass).toBe(true);
  }, 600_000);
});
