/**
 * From the attacker's side: a local user runs `ps` (reads /proc/PID/cmdline) while root
 * bootstraps an image with a root password, and looks for that password on the command line of
 * xenroot or of any process it starts (mmdebstrap, chroot, chpasswd). The password comes from
 * standard input or a file; `--root-password PW` is refused before anything starts.
 *
 * The bootstrap runs for real up to mmdebstrap, pointed at a mirror on a closed loopback port (no
 * traffic leaves this machine), so the command line of every process it starts is sampled.
 */
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XENROOT, xenroot } from '../support/cli.js';

const SECRET = 'Pw-7c1e9f3b-from-the-admin';
let dir: string;
let env: Record<string, string>;

/** The command lines of every process now, as text. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // gone
    }
  }
  return out;
}

/** Runs a bootstrap to its end (mmdebstrap fails on the closed mirror), sampling /proc all along. */
async function sampledBootstrap(args: string[], input?: string): Promise<{ code: number; stderr: string; lines: Set<string> }> {
  const child = execa('node', [XENROOT, 'image', 'bootstrap', 'deb', '--dir', join(dir, 'deb'), '--mirror', 'http://127.0.0.1:9/debian', ...args], { reject: false, env: { XENROOT_LOG_JSON: '1', ...env }, ...(input !== undefined ? { input } : {}) });
  const lines = new Set<string>();
  let running = true;
  void child.finally(() => (running = false));
  while (running) {
    for (const l of commandLines()) lines.add(l);
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await child;
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), lines };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-argv-'));
  env = { XENROOT_INVENTORY: join(dir, 'inventory.yaml'), XENROOT_STATE_DIR: join(dir, 'state') };
  expect((await xenroot(['init', '--nfs-server', '10.0.2.2'], { env })).code).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a root password given to image bootstrap', () => {
  it('from standard input: mmdebstrap runs, and no command line of any process ever holds the password', async () => {
    const r = await sampledBootstrap(['--root-password-stdin'], `${SECRET}\n`);
    expect([...r.lines].some((l) => l.includes('mmdebstrap') && l.includes('127.0.0.1:9')), 'mmdebstrap was started and sampled').toBe(true);
    expect([...r.lines].filter((l) => l.includes(SECRET))).toEqual([]);
  });

  it('from a file: mmdebstrap runs, no command line holds the password, and a file readable by others (0644) is warned about', async () => {
    const file = join(dir, 'pw');
    await writeFile(file, `${SECRET}\n`, { mode: 0o644 });
    const r = await sampledBootstrap(['--root-password-file', file]);
    expect([...r.lines].some((l) => l.includes('mmdebstrap') && l.includes('127.0.0.1:9'))).toBe(true);
    expect([...r.lines].filter((l) => l.includes(SECRET))).toEqual([]);
    expect(r.stderr).toMatch(/readable by others \(mode 0644\)/);
  });

  it('on the command line (--root-password PW): refused with exit 2 and one line naming what to use, before any process starts', async () => {
    const r = await sampledBootstrap(['--root-password', SECRET]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--root-password-file FILE, --root-password-stdin or --root-password-prompt/);
    expect([...r.lines].some((l) => l.includes('mmdebstrap') && l.includes('127.0.0.1:9'))).toBe(false);
  });
});
