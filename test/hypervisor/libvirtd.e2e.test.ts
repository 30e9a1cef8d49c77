// A real libvirtd (private, started here, stopped by PID) with the qemu driver, running the QEMU
// test-domain render of a guest: direct kernel boot of the real Debian kernel under TCG with a tiny
// busybox initrd whose /init prints a marker. Proves: first start pins the MAC (inventory, .cfg,
// .xml), `console --expect` sees the marker, stop ends the domain, a second start reuses the MAC,
// a guest that powers itself off ends `console --expect` with a clear error, and a stopped
// libvirtd gives the clear "unreachable" error fast.
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestConsole } from '../../src/ops/guest-console.js';
import { guestStatus } from '../../src/ops/guest-status.js';
import { startGuest } from '../../src/ops/start-guest.js';
import { stopGuest } from '../../src/ops/stop-guest.js';
import { PassThrough, Writable } from 'node:stream';
import { ConsoleEndedError, attachConsole, expectConsole } from '../../src/hypervisor/console.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt.js';
import { HypervisorCallError } from '../../src/hypervisor/errors.js';
import { startLocalLibvirtd, qemuPids, type LocalLibvirtd } from '../../src/hypervisor/local-libvirtd.js';
import { loadInventory } from '../../src/ops/steps/store.js';
import { testKernel } from '../support/kernel.js';
import { XENROOT, xenroot } from '../support/cli.js';
import { createRequire } from 'node:module';
import { inventoryFixture, type InventoryFixture } from './fixture.js';

const MARKER = 'XENROOT-HV-MARKER';

/**
 * Runs the CLI in a terminal (a pty), as a user at a shell would. `step` sees the screen text so
 * far and may type into it. Resolves with the exit code and everything shown.
 */
function xenrootInTerminal(args: string[], step: (screen: string, type: (s: string) => void) => void, timeoutMs = 150_000): Promise<{ code: number; screen: string }> {
  const pty = createRequire(import.meta.url)('node-pty') as typeof import('node-pty');
  const term = pty.spawn(process.execPath, [XENROOT, ...args], { name: 'xterm', cols: 120, rows: 40, env: { ...process.env, XENROOT_LOG_JSON: '1' } });
  let screen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      term.kill('SIGKILL');
      reject(new Error(`xenroot ${args.join(' ')} did not finish; screen:\n${screen.slice(-2000)}`));
    }, timeoutMs);
    term.onData((d) => {
      screen += d;
      step(screen, (s) => term.write(s));
    });
    term.onExit(({ exitCode }) => {
      clearTimeout(timer);
      resolve({ code: exitCode, screen });
    });
  });
}

/**
 * A gzip'd newc initrd: static busybox and an /init that prints the marker, then idles, powers off
 * (xenroot.test=poweroff) or panics the kernel (xenroot.test=panic, after loading pvpanic so that
 * QEMU and libvirt learn of it).
 */
async function markerInitrd(path: string, modulesDir?: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xenroot-hv-initrd-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys']) mkdirSync(join(dir, d));
    copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
    if (modulesDir) {
      copyFileSync(join(modulesDir, 'kernel/drivers/misc/pvpanic/pvpanic.ko'), join(dir, 'pvpanic.ko'));
      copyFileSync(join(modulesDir, 'kernel/drivers/misc/pvpanic/pvpanic-mmio.ko'), join(dir, 'pvpanic-mmio.ko'));
    }
    writeFileSync(
      join(dir, 'init'),
      [
        '#!/bin/busybox sh',
        '/bin/busybox mount -t proc proc /proc',
        `echo "${MARKER} up"`,
        'if /bin/busybox grep -q xenroot.test=poweroff /proc/cmdline; then /bin/busybox sleep 1; echo powering off; /bin/busybox poweroff -f; fi',
        'if /bin/busybox grep -q xenroot.test=panic /proc/cmdline; then /bin/busybox insmod /pvpanic.ko; /bin/busybox insmod /pvpanic-mmio.ko; /bin/busybox sleep 1; echo panicking; echo c > /proc/sysrq-trigger; fi',
        'while :; do /bin/busybox sleep 3600; done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    await execa('sh', ['-c', `cd "${dir}" && find . | cpio -o -H newc --quiet | gzip -1 > "${path}"`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('guests on a private libvirtd with the qemu driver (TCG)', () => {
  let daemon: LocalLibvirtd | undefined;
  let fx: InventoryFixture;

  beforeAll(async () => {
    const kernel = await testKernel();
    daemon = await startLocalLibvirtd();
    fx = inventoryFixture({ connect: daemon.uri, kver: kernel.kver });
    // Staged where the renderer expects them: BOOTDIR/IMAGE/vmlinuz-KVER, initrd-KVER-qemu.img.
    mkdirSync(join(fx.bootDir, 'tiny'), { recursive: true });
    copyFileSync(kernel.vmlinuz, join(fx.bootDir, 'tiny', `vmlinuz-${kernel.kver}`));
    await markerInitrd(join(fx.bootDir, 'tiny', `initrd-${kernel.kver}-qemu.img`), kernel.modulesDir);
  });

  afterAll(async () => {
    const pid = daemon?.pid;
    const dir = daemon?.dir;
    await daemon?.stop();
    fx?.cleanup();
    if (pid) expect(() => process.kill(pid, 0)).toThrow();
    if (dir) expect(qemuPids(dir)).toEqual([]);
  });

  it('first start pins the MAC, console --expect sees the marker, stop ends the domain, a second start reuses the MAC', async () => {
    await fx.addGuest('hv-e2e');
    const first = await startGuest(fx.file, 'hv-e2e');
    expect(first).toMatchObject({ target: 'qemu', mode: 'transient', pin: 'pinned', state: 'running' });
    expect(first.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    const inv = await loadInventory(fx.file);
    expect(inv.data.guests['hv-e2e']).toMatchObject({ mac: first.mac, macSource: 'first-boot' });
    expect(readFileSync(join(fx.guestDir, 'hv-e2e.cfg'), 'utf8')).toContain(`mac=${first.mac}`);
    expect(readFileSync(join(fx.guestDir, 'hv-e2e.xml'), 'utf8')).toContain(`<mac address="${first.mac}"/>`);

    // The CLI, as a user runs it, in another process against the same daemon.
    const logFile = join(fx.dir, 'console.log');
    const seen = await xenroot(['--inventory', fx.file, '--json', 'console', 'hv-e2e', '--expect', `${MARKER} up`, '--timeout', '90', '--log', logFile]);
    expect(seen.code, seen.stderr).toBe(0);
    expect(JSON.parse(seen.stdout)).toMatchObject({ name: 'hv-e2e', matched: true, match: `${MARKER} up` });
    expect(readFileSync(logFile, 'utf8')).toContain(MARKER);

    const status = await xenroot(['--inventory', fx.file, '--json', 'status', 'hv-e2e']);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'running', pinnedMac: first.mac, liveMacs: [first.mac] });

    const stop = await xenroot(['--inventory', fx.file, '--json', 'stop', 'hv-e2e', '--force']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ how: 'destroy', before: 'running', after: 'undefined' });
    expect((await guestStatus(fx.file, 'hv-e2e'))[0]?.state).toBe('undefined');

    const second = await startGuest(fx.file, 'hv-e2e');
    expect(second).toMatchObject({ pin: 'already-pinned', mac: first.mac });

    // Interactive attach in a terminal; Ctrl-] detaches and the guest keeps running.
    let typed = false;
    const attached = await xenrootInTerminal(['--inventory', fx.file, 'console', 'hv-e2e'], (screen, type) => {
      if (!typed && /Escape character is/.test(screen)) {
        typed = true;
        setTimeout(() => type('\x1d'), 300);
      }
    });
    expect(attached.code, attached.screen).toBe(0);
    expect(attached.screen).toContain('attached to hv-e2e (escape: Ctrl-])');
    expect(attached.screen).toContain('detached from hv-e2e; it keeps running');
    expect((await guestStatus(fx.file, 'hv-e2e'))[0]?.state).toBe('running');
    await stopGuest(fx.file, 'hv-e2e', { force: true });
  });

  it('a guest that powers off while console --expect waits ends it with "the guest stopped" and its last console lines', async () => {
    await fx.addGuest('hv-off', { append: 'xenroot.test=poweroff' });
    await startGuest(fx.file, 'hv-off');
    const err = await guestConsole(fx.file, 'hv-off', { expect: /this never appears/, timeoutMs: 120_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsoleEndedError);
    expect((err as ConsoleEndedError).message).toMatch(/the guest stopped/);
    expect((err as ConsoleEndedError).lastLines.join('\n')).toContain('powering off');
    expect((await guestStatus(fx.file, 'hv-off'))[0]?.state).toBe('undefined');
  });

  it('start --console attaches at once, shows the boot, and ends cleanly with "shut down" when the guest powers off', async () => {
    await fx.addGuest('hv-con', { append: 'xenroot.test=poweroff' });
    const r = await xenrootInTerminal(['--inventory', fx.file, 'start', 'hv-con', '--console'], () => {});
    expect(r.code, r.screen).toBe(0);
    expect(r.screen).toMatch(/started hv-con .*first boot: now pinned/);
    expect(r.screen).toContain(`${MARKER} up`);
    expect(r.screen).toContain('powering off');
    expect(r.screen).toMatch(/xenroot: hv-con shut down/);
  });

  it('a guest that crashes while console --expect waits ends it with "the guest crashed" (hand-written XML adds a pvpanic device)', async () => {
    // The inventory's QEMU render has no panic device; this domain adds one (and on_crash
    // preserve) so that a real kernel panic reaches libvirt as the state "crashed".
    const kernel = await testKernel();
    const boot = join(fx.bootDir, 'tiny');
    const xml = `<domain type='qemu'><name>hv-crash</name><memory unit='KiB'>262144</memory>
      <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${join(boot, `vmlinuz-${kernel.kver}`)}</kernel>
      <initrd>${join(boot, `initrd-${kernel.kver}-qemu.img`)}</initrd><cmdline>console=ttyS0 xenroot.test=panic</cmdline></os>
      <features><acpi/></features><on_poweroff>destroy</on_poweroff><on_crash>preserve</on_crash>
      <devices><serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>
      <panic model='isa'><address type='isa' iobase='0x505'/></panic></devices></domain>`;
    const h = new LibvirtHypervisor((daemon as LocalLibvirtd).uri);
    await h.connect();
    try {
      await h.createXml(xml);
      const logFile = join(fx.dir, 'crash-console.log');
      const err = await expectConsole(h.consoleCommand('hv-crash'), /this never appears/, { timeoutMs: 120_000, stateOf: () => h.state('hv-crash'), pollMs: 500, logFile }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConsoleEndedError);
      expect((err as ConsoleEndedError).message).toMatch(/the guest crashed/);
      expect((err as ConsoleEndedError).state).toBe('crashed');
      expect((err as ConsoleEndedError).lastLines.length).toBeGreaterThan(0);
      expect(readFileSync(logFile, 'utf8')).toMatch(/panicking[\s\S]*sysrq/);
      // Attaching interactively to the preserved crashed domain ends at once, saying so.
      const input = new PassThrough() as unknown as NodeJS.ReadStream;
      const shown: string[] = [];
      const output = new Writable({ write: (c, _e, cb) => (shown.push(String(c)), cb()) }) as unknown as NodeJS.WriteStream;
      const a = await attachConsole(h.consoleCommand('hv-crash'), { stateOf: () => h.state('hv-crash'), input, output });
      expect(a).toMatchObject({ outcome: 'crashed', state: 'crashed' });
    } finally {
      await h.destroy('hv-crash').catch(() => undefined);
      await h.close();
    }
  });

  it('once libvirtd is stopped, start fails with the clear unreachable error within 5 s', async () => {
    const d = daemon as LocalLibvirtd;
    await d.stop();
    expect(existsSync(d.dir)).toBe(false);
    const t0 = Date.now();
    const err = await startGuest(fx.file, 'hv-e2e').catch((e: unknown) => e);
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(HypervisorCallError);
    expect((err as HypervisorCallError).reason).toBe('unreachable');
    expect((err as HypervisorCallError).hint).toMatch(/libvirtd/);
    expect(ms).toBeLessThan(5_000);
  });
});
