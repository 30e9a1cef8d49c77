// A node whose files cannot be made does not stop the others: sync writes every other node and
// the shared files, reports each failing node (name, path, reason) with exit 8 and in --json, and
// leaves the failing node's files as they were. The faults are real: values written into the
// inventory by hand that only the command line builder refuses (ip=none with an NFS root), and a
// directory standing where a guest's .cfg goes.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';

function fleet() {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-partial-'));
  mkdirSync(join(dir, 'r'));
  mkdirSync(join(dir, 'boot/t'), { recursive: true });
  writeFileSync(join(dir, 'boot/t/vmlinuz-6.1.0-28-amd64'), 'kernel');
  writeFileSync(join(dir, 'boot/t/initrd-6.1.0-28-amd64-pxe.img'), 'initrd');
  const inv = join(dir, 'inventory.yaml');
  writeFileSync(
    inv,
    `site:\n  nfsServer: 10.0.2.2\n  allow: [ 10.0.2.0/24 ]\n  bootDir: ${dir}/boot\n  dhcp:\n    server: none\nimages:\n  t:\n    root: ${dir}/r\n    kver: 6.1.0-28-amd64\n` +
      `guests:\n  g1:\n    image: t\n  g2:\n    image: t\n    append: ip=none\n  g3:\n    image: t\n` +
      `clients:\n  pc1:\n    mac: 00:16:3e:00:00:01\n    image: t\n  pc2:\n    mac: 00:16:3e:00:00:02\n    image: t\n    append: ip=none\n`,
  );
  const root = join(dir, 'root');
  return { dir, inv, root, sync: (json = false) => xenroot(['-i', inv, ...(json ? ['--json'] : []), 'sync', '--root', root, '--no-reload']) };
}

describe('sync with a failing node', () => {
  it('writes every other node, reports each failing one (name, path, reason) with exit 8 and in --json, and the failed node keeps its old files', async () => {
    const f = fleet();
    // A directory where guest g3's .cfg goes: a path of its own that cannot be written.
    const g3cfg = join(f.root, f.dir, 'guests', 'g3.cfg');
    mkdirSync(g3cfg, { recursive: true });
    const r = await f.sync();
    expect(r.code).toBe(8);
    const first = r.stderr.split('\n').find((l) => !l.startsWith('{"level"'))!; // log lines (pino JSON) may come first
    expect(first).toMatch(/^xenroot: 3 nodes not written \(the others were\): /);
    expect(first).toContain('guest g2: ip=none cannot be honoured: an NFS root needs the network');
    expect(first).toContain('client pc2: ip=none cannot be honoured');
    expect(first).toContain(`guest g3: ${g3cfg} is a directory`);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    // The others were written: g1's files, pc1's pxelinux file, the shared files.
    expect(existsSync(join(f.root, f.dir, 'guests', 'g1.cfg'))).toBe(true);
    expect(readFileSync(join(f.root, 'tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-01'), 'utf8')).toContain('APPEND initrd=');
    expect(existsSync(join(f.root, 'tftpboot/linux-install/pxelinux.cfg/default'))).toBe(true);
    expect(existsSync(join(f.root, 'etc/exports'))).toBe(true);
    expect(existsSync(join(f.root, 'tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-02'))).toBe(false);
    expect(existsSync(join(f.root, f.dir, 'guests', 'g2.cfg'))).toBe(false);
    expect(lstatSync(g3cfg).isDirectory()).toBe(true);

    // --json lists the failures (the result on stdout, the error on stderr), and a re-run does not call it done.
    const j = await f.sync(true);
    expect(j.code).toBe(8);
    const out = JSON.parse(j.stdout) as { mode: string; failures: { owner: string; name: string; path: string; reason: string; exitCode: number }[] };
    expect(out.mode).toBe('full');
    expect(out.failures.map((x) => [x.owner, x.exitCode])).toEqual([['guest:g2', 4], ['client:pc2', 4], ['guest:g3', 8]]);
    expect(out.failures.find((x) => x.owner === 'client:pc2')!.path).toBe('/tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-02');
    expect(JSON.parse(j.stderr.trim().split('\n').at(-1)!)).toMatchObject({ error: 'DeployError', exitCode: 8 });

    // Fixed by hand: the next sync writes them and succeeds.
    writeFileSync(f.inv, readFileSync(f.inv, 'utf8').replaceAll('    append: ip=none\n', ''));
    rmdirSync(g3cfg);
    const fixed = await f.sync();
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(existsSync(join(f.root, 'tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-02'))).toBe(true);
    expect(lstatSync(g3cfg).isSymbolicLink()).toBe(true);
  }, 60_000);

  it('a node that fails after it was written keeps its previous files (neither rewritten nor removed), while the others change', async () => {
    const f = fleet();
    writeFileSync(f.inv, readFileSync(f.inv, 'utf8').replaceAll('    append: ip=none\n', ''));
    expect((await f.sync()).code).toBe(0);
    const pc2 = join(f.root, 'tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-02');
    const before = readFileSync(pc2, 'utf8');
    writeFileSync(
      f.inv,
      readFileSync(f.inv, 'utf8')
        .replace('    mac: 00:16:3e:00:00:02\n    image: t\n', '    mac: 00:16:3e:00:00:02\n    image: t\n    append: ip=none\n')
        .replace('    mac: 00:16:3e:00:00:01\n    image: t\n', '    mac: 00:16:3e:00:00:01\n    image: t\n    append: quiet\n'),
    );
    const r = await f.sync();
    expect(r.code).toBe(8);
    expect(readFileSync(pc2, 'utf8')).toBe(before);
    expect(readFileSync(join(f.root, 'tftpboot/linux-install/pxelinux.cfg/01-00-16-3e-00-00-01'), 'utf8')).toContain(' quiet');
  }, 60_000);
});
