/**
 * `xenroot doctor` against real NFS servers on this machine: nfs-ganesha on loopback answers, then
 * is stopped; nfs-utils' `exportfs -ra` writes the export table (in a private mount namespace
 * where /etc/exports and /var/lib/nfs are bind-mounted from the test's temp dir) with the image's
 * export, then without it. The CLI is run as a user runs it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNfsServer, type NfsServer } from '../../src/deploy/nfs-server.js';
import { xenroot } from '../support/cli.js';

let dir: string;
let root: string;
let inv: string;
let nfs: NfsServer | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-doctor-e2e-'));
  root = join(dir, 'root');
  inv = join(dir, 'inventory.yaml');
  mkdirSync(join(dir, 'tiny'));
  mkdirSync(join(root, 'var/lib/nfs'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/exports'), '');
  writeFileSync(inv, `site:\n  nfsServer: 127.0.0.1\n  allow: [127.0.0.0/8]\n  tftpRoot: /tftpboot\n  exportRoot: /srv/xenroot\n  bootDir: ${dir}/boot\nimages:\n  tiny:\n    root: ${dir}/tiny\n    kver: 6.1.0-test\n`);
});

afterAll(async () => {
  await nfs?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function doctorFinding(name: string, args: string[] = []): Promise<{ status: string; detail: string }> {
  const r = await xenroot(['--inventory', inv, '--json', 'doctor', '--root', root, ...args], { env: { XENROOT_STATE_DIR: join(dir, 'state') } });
  const out = JSON.parse(r.stdout) as { findings: { check: string; status: string; detail: string }[] };
  return out.findings.find((f) => f.check === name)!;
}

/** Runs real `exportfs -ra` over `exportsText` as /etc/exports, writing the table to ROOT/var/lib/nfs/etab. */
async function exportfs(exportsText: string): Promise<void> {
  writeFileSync(join(root, 'etc/exports'), exportsText);
  const script = `mount --bind ${root}/etc/exports /etc/exports && mount --bind ${root}/var/lib/nfs /var/lib/nfs && exportfs -ra`;
  await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script]);
}

describe('doctor against real NFS servers', () => {
  it('nfs-server PASSes while nfs-ganesha serves on loopback, and FAILs once it is stopped', async () => {
    nfs = await startNfsServer({ exports: [{ path: join(dir, 'tiny') }] });
    const up = await doctorFinding('nfs-server', ['--nfs-port', String(nfs.port)]);
    expect(up).toMatchObject({ status: 'PASS' });
    await nfs.stop();
    const down = await doctorFinding('nfs-server', ['--nfs-port', String(nfs.port)]);
    expect(down.status).toBe('FAIL');
    expect(down.detail).toContain('ECONNREFUSED');
    // Mended: started again, it passes again.
    nfs = await startNfsServer({ exports: [{ path: join(dir, 'tiny') }], port: nfs.port });
    expect((await doctorFinding('nfs-server', ['--nfs-port', String(nfs.port)])).status).toBe('PASS');
  });

  it('nfs-exports PASSes when exportfs has the image path in its table, and FAILs after an exportfs -ra without it', async () => {
    await exportfs(`${dir}/tiny 127.0.0.0/8(ro,no_root_squash,no_subtree_check)\n`);
    expect((await doctorFinding('nfs-exports')).status).toBe('PASS');
    await exportfs(`${root} 127.0.0.0/8(ro,no_subtree_check)\n`);
    const gone = await doctorFinding('nfs-exports');
    expect(gone.status).toBe('FAIL');
    expect(gone.detail).toContain(`${dir}/tiny`);
  });
});
