/**
 * The per-node switch (deploy/plan.ts: nodeSwitch) makes pxelinux.cfg/01-MAC (and grub/grub.cfg-01-MAC)
 * symbolic links, through nodes/MAC, into a file set. A TFTP server must follow such links inside
 * its root. Proven here for the real dnsmasq and tftpd-hpa, each serving a tree written by
 * `xenroot sync --root`, fetched by curl's TFTP client; all inside a network namespace this test
 * makes (loopback only). QEMU's built-in TFTP server is proven by the PXE boots of
 * revisions.e2e.test.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const NS = `xenroot-tftp-${process.pid}`;
let s: SyncSite;
let tftp: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  s = await makeSite({ clients: { pc1: { mac: '52:54:00:aa:bb:01', image: 'terminal', append: 'xenroot.client=pc1' } } });
  const r = await xenroot(['sync', '--root', s.root], { env: { XENROOT_INVENTORY: s.inventory } });
  expect(r.code, r.stderr).toBe(0);
  tftp = join(s.root, 'tftpboot/linux-install');
  execFileSync('ip', ['netns', 'add', NS]);
  execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((res) => c.once('exit', res)) : undefined)));
  try {
    execFileSync('ip', ['netns', 'del', NS]);
  } catch {
    /* gone */
  }
  await s?.cleanup();
});

/** Fetches a file over TFTP from 127.0.0.1:port inside the namespace (a few tries while the server starts). */
async function fetch(port: number, path: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 20; i++) {
    const r = await execa('ip', ['netns', 'exec', NS, 'curl', '-s', '--max-time', '2', `tftp://127.0.0.1:${port}/${path}`], { reject: false, encoding: 'utf8', stripFinalNewline: false });
    if (r.exitCode === 0) return String(r.stdout);
    last = `curl exit ${r.exitCode}`;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`TFTP fetch of ${path} failed: ${last}`);
}

function serve(cmd: string[]): void {
  const c = spawn('ip', ['netns', 'exec', NS, 'setpriv', '--pdeathsig', 'KILL', ...cmd], { stdio: 'ignore' });
  children.push(c);
}

describe('TFTP servers follow the per-node links', () => {
  it('the tree holds links: pxelinux.cfg/01-MAC -> nodes/MAC/pxelinux, nodes/MAC -> nodes/entries/SET (iPXE reads nodes/MAC/ipxe)', () => {
    const link = execFileSync('readlink', [join(tftp, 'pxelinux.cfg/01-52-54-00-aa-bb-01')], { encoding: 'utf8' }).trim();
    expect(link).toBe('../nodes/52-54-00-aa-bb-01/pxelinux');
    expect(execFileSync('readlink', [join(tftp, 'nodes/52-54-00-aa-bb-01')], { encoding: 'utf8' }).trim()).toMatch(/^entries\/[0-9a-f]{16}$/);
  });

  it('dnsmasq (its TFTP server only) serves the files through the links', async () => {
    serve(['dnsmasq', '-k', '--port=0', '--enable-tftp', `--tftp-root=${tftp}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--conf-file=/dev/null', '--user=root', '--pid-file=']);
    const want = readFileSync(join(tftp, 'pxelinux.cfg/01-52-54-00-aa-bb-01'), 'utf8');
    expect(want).toContain('xenroot.client=pc1');
    expect(await fetch(69, 'pxelinux.cfg/01-52-54-00-aa-bb-01')).toBe(want);
    expect(await fetch(69, 'nodes/52-54-00-aa-bb-01/ipxe')).toBe(readFileSync(join(tftp, 'nodes/52-54-00-aa-bb-01/ipxe'), 'utf8'));
  });

  it('tftpd-hpa (chrooted into the tree, --secure) serves the files through the links', async () => {
    // No address: tftpd-hpa resolves one with AI_ADDRCONFIG, which finds nothing in a namespace that
    // has only lo; unbound, it listens on the namespace's loopback, the only interface there is.
    serve(['in.tftpd', '-4', '--foreground', '--listen', '--address', ':6969', '--user', 'root', '--secure', tftp]);
    expect(await fetch(6969, 'pxelinux.cfg/01-52-54-00-aa-bb-01')).toBe(readFileSync(join(tftp, 'pxelinux.cfg/01-52-54-00-aa-bb-01'), 'utf8'));
    expect(await fetch(6969, 'nodes/52-54-00-aa-bb-01/ipxe')).toBe(readFileSync(join(tftp, 'nodes/52-54-00-aa-bb-01/ipxe'), 'utf8'));
  });
});
