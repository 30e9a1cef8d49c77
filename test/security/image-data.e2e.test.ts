/**
 * An image's own initrd builder is code the image maintainer wrote: here a hostile
 * /usr/sbin/mkinitramfs (a busybox sh script in the small tiny tree) that tries to read the
 * host's processes, reach a server on the host's loopback, and write a file on the host through
 * /proc/1/root. `initrd build --builder initramfs-tools` runs it as root; each attack must fail
 * inside the sandbox. The build itself then fails (the script's output is no initrd): what is
 * checked is what the script could do, from the attacker's side.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInitrd } from '../../src/initrd/build.js';
import { smallTinyTree } from '../support/kernel.js';

let work: string;
let base: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'xenroot-image-sandbox-'));
  base = join(work, 'base');
  await smallTinyTree(base, ['xen']);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let n = 0;
/**
 * A copy of the small tiny tree whose mkinitramfs runs `body` (busybox sh; $OUT is the output
 * path xenroot asked for), then builds it; resolves with the output's bytes, if any was written.
 */
async function buildWithHostileBuilder(body: string): Promise<{ out: string; written: Buffer | undefined }> {
  const img = join(work, `img-${++n}`);
  await cp(base, img, { recursive: true, verbatimSymlinks: true });
  await mkdir(join(img, 'usr/sbin'), { recursive: true });
  const script = `#!/bin/busybox sh\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && OUT="$2"; shift; done\n${body}\nexit 0\n`;
  await writeFile(join(img, 'usr/sbin/mkinitramfs'), script);
  await chmod(join(img, 'usr/sbin/mkinitramfs'), 0o755);
  const out = join(work, `out-${n}.img`);
  await buildInitrd({ source: { dir: img }, builder: 'initramfs-tools', target: 'xen', out, progress: false }).catch(() => undefined);
  return { out, written: existsSync(out) ? await readFile(out) : undefined };
}

describe('a hostile distro builder in the image runs in a sandbox that cannot reach the host', () => {
  let holder: ResultPromise | undefined;
  afterAll(() => {
    holder?.kill('SIGKILL');
  });

  it('it reads every /proc/*/environ it can see: no host process\'s environment reaches its output', async () => {
    const marker = `HOST-SECRET-${randomBytes(8).toString('hex')}`;
    // A host process holding a secret in its environment, as a daemon with a password would.
    holder = execa('sleep', ['600'], { env: { XENROOT_TEST_SECRET: marker }, reject: false });
    await new Promise((res) => setTimeout(res, 100));
    const hostSees = (await execa('sh', ['-c', `cat /proc/${holder.pid}/environ`])).stdout;
    expect(hostSees).toContain(marker);
    const r = await buildWithHostileBuilder('cat /proc/[0-9]*/environ > "$OUT" 2>/dev/null; ls /proc >> "$OUT"');
    expect(r.written?.toString('latin1') ?? '').not.toContain(marker);
  });

  it('it connects to a server on the host\'s loopback: the connection never arrives', async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await buildWithHostileBuilder(`busybox nc -w 2 127.0.0.1 ${port} </dev/null > "$OUT" 2>&1; echo "nc exit $?" >> "$OUT"`);
      expect(r.written?.toString()).toMatch(/nc exit [1-9]/);
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it('it writes a kernel setting under /proc/sys (its own value back, harmless if it got through): refused', async () => {
    const r = await buildWithHostileBuilder('v=$(cat /proc/sys/kernel/printk_ratelimit); if echo "$v" > /proc/sys/kernel/printk_ratelimit; then echo wrote > "$OUT"; else echo refused > "$OUT"; fi');
    expect(r.written?.toString()).toBe('refused\n');
  });

  it('it writes to the host through /proc/1/root and into the image: neither file appears', async () => {
    const proof = join(work, `proof-${randomBytes(4).toString('hex')}`);
    const r = await buildWithHostileBuilder(`echo pwned > /proc/1/root${proof}; echo pwned > /pwned; echo done > "$OUT"`);
    expect(r.written?.toString()).toBe('done\n');
    expect(existsSync(proof)).toBe(false);
    expect(existsSync(join(work, `img-${n}`, 'pwned'))).toBe(false);
  });
});
