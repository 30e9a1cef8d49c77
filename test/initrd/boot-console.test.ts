/**
 * What `xenroot test` reads on a boot console: stage markers and the initrd that ran, and the
 * failure signatures of each initrd and the kernel. The lines are those real boots printed
 * (QEMU TCG, Debian 12 kernel and systemd 252; dracut 059, initramfs-tools 0.142, the built-in).
 * The console watcher itself is checked with a real pty program: it ends within its grace time
 * of a failure line, with the tail.
 */
import { describe, expect, it } from 'vitest';
import { BootTimeline, FAILURE_PATTERN, findFailure, initrdsSeen } from '../../src/initrd/boot-console.js';
import { ConsoleFailedError, expectConsole } from '../../src/hypervisor/console.js';

const BUILTIN = `SeaBIOS (version 1.16.2-debian-1.16.2-1)
[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)
xenroot-initrd: starting on 6.1.0-57-amd64
xenroot-initrd: modules loaded
xenroot-initrd: interface eth0 (52:54:00:12:34:56)
xenroot-initrd: address 10.0.2.15 on eth0 via 10.0.2.2
xenroot-initrd: mounting 10.0.2.2:/export (nfs4, ro,addr=10.0.2.2,clientaddr=10.0.2.15,proto=tcp,vers=4,port=20491)
xenroot-initrd: nfs root mounted: 10.0.2.2:/export
xenroot-initrd: root: overlay (tmpfs upper) over nfs4
xenroot-initrd: switching to /sbin/init
Welcome to Debian GNU/Linux 12 (bookworm)!
xenroot-r11 login: `;

const ITOOLS = `Loading, please wait...
Begin: Loading essential drivers ... done.
xenroot-initramfs: starting on 6.1.0-57-amd64
IP-Config: ens3 hardware address 52:54:00:12:34:56 mtu 1500 DHCP
IP-Config: ens3 complete (dhcp from 10.0.2.2):
xenroot-initramfs: address 10.0.2.15 on ens3
xenroot-initramfs: mounting 10.0.2.2:/export (nfs v4, port=20491)
xenroot-initramfs: nfs root mounted: 10.0.2.2:/export
xenroot-initramfs: switching to /sbin/init
Welcome to Debian GNU/Linux 12 (bookworm)!`;

const DRACUT = `[    4.268327] dracut: Debian GNU/Linux-12
[    9.106738] dracut: Starting dhcp for interface eth0
dhcp: PREINIT eth0 up
dhcp: BOUND setting up eth0
[   16.903881] dracut: Mounted root filesystem 10.0.2.2:/export
[   18.624008] dracut: Switching root
Welcome to Debian GNU/Linux 12 (bookworm)!`;

describe('stage markers and the initrd that ran', () => {
  it('each initrd\'s console names it, and only it', () => {
    expect(initrdsSeen(BUILTIN)).toEqual(['builtin']);
    expect(initrdsSeen(ITOOLS)).toEqual(['initramfs-tools']);
    expect(initrdsSeen(DRACUT)).toEqual(['dracut']);
  });

  it('a timeline fed line by line has every stage each initrd marks, in order', () => {
    for (const [text, stages] of [
      [BUILTIN, ['firmware', 'kernel', 'initrd', 'nic', 'lease', 'nfs', 'switch_root', 'init']],
      [ITOOLS, ['initrd', 'nic', 'lease', 'nfs', 'switch_root', 'init']],
      [DRACUT, ['initrd', 'nic', 'lease', 'nfs', 'switch_root', 'init']],
    ] as const) {
      const t = new BootTimeline();
      text.split('\n').forEach((l, i) => t.feed(`${l}\n`, i * 100));
      expect(t.entries().map(([s]) => s)).toEqual(stages);
      const ms = t.entries().map(([, m]) => m);
      expect([...ms].sort((a, b) => a - b)).toEqual(ms);
    }
  });
});

describe('failure signatures', () => {
  const cases: [string, string, { by: string; step?: string; what: RegExp }][] = [
    ['built-in, wrong export', 'mount: mounting 10.0.2.2:/nope on /run/xenroot/lower failed: No such file or directory\nxenroot-initrd: FAILED at nfs: mount -t nfs4 10.0.2.2:/nope failed\nxenroot-initrd: halting', { by: 'builtin', step: 'nfs', what: /mount -t nfs4 10\.0\.2\.2:\/nope failed/ }],
    ['built-in, no NIC driver', 'xenroot-initrd: FAILED at nic: no network interface with a link; have: lo', { by: 'builtin', step: 'nic', what: /no network interface/ }],
    ['initramfs-tools script', 'xenroot-initramfs: FAILED at nfs: cannot mount 10.0.2.2:/nope', { by: 'initramfs-tools', step: 'nfs', what: /cannot mount/ }],
    ['initramfs-tools, no init', "Target filesystem doesn't have requested /sbin/init.\nNo init found. Try passing init= bootarg.\n(initramfs) ", { by: 'initramfs-tools', step: 'switch_root', what: /no \/sbin\/init/ }],
    ['initramfs-tools shell', 'mount: invalid option --\n(initramfs) ', { by: 'initramfs-tools', what: /\(initramfs\) shell/ }],
    ['dracut, two ip=', "dracut Warning: dracut: FATAL: Sorry, 'ip=dhcp' does not make sense for multiple interface configurations\ndracut: Refusing to continue", { by: 'dracut', what: /does not make sense/ }],
    ['dracut, wrong export', 'mount.nfs4: mounting 10.0.2.2:/nope failed, reason given by server: No such file or directory', { by: 'dracut', step: 'nfs', what: /has no 10\.0\.2\.2:\/nope/ }],
    ['dracut, gave up', 'dracut Warning: Could not boot.\nGenerating "/run/initramfs/rdsosreport.txt"', { by: 'dracut', what: /could not boot/ }],
    ['dracut, no init', 'Cannot find init!\nPlease check to make sure you passed a valid root filesystem!', { by: 'dracut', step: 'switch_root', what: /no init/ }],
    ['kernel, no initrd', 'No filesystem could mount root, tried:\nKernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', { by: 'kernel', step: 'initrd', what: /VFS: Unable to mount root fs/ }],
    ['kernel, bad /init', 'Failed to execute /init (error -2)\nKernel panic - not syncing: No working init found.  Try passing init= option to kernel.', { by: 'kernel', step: 'initrd', what: /\/init/ }],
  ];
  for (const [name, text, want] of cases) {
    it(`${name}: ${want.by}${want.step ? ` at ${want.step}` : ''}`, () => {
      const f = findFailure(text);
      expect(f).toMatchObject({ by: want.by, ...(want.step ? { step: want.step } : {}) });
      expect(f!.what).toMatch(want.what);
      expect(FAILURE_PATTERN.test(text)).toBe(true);
    });
  }

  it('a healthy boot of each initrd matches no failure signature', () => {
    for (const text of [BUILTIN, ITOOLS, DRACUT]) {
      expect(findFailure(text)).toBeUndefined();
      expect(FAILURE_PATTERN.test(text)).toBe(false);
    }
  });

  it('a failure that names no step is put at the stage after the last one reached', () => {
    const t = new BootTimeline();
    t.feed(DRACUT.split('\n').slice(0, 4).join('\n'), 1000);
    expect(t.failedStage(findFailure('dracut Warning: Could not boot.')!)).toBe('nfs');
  });
});

describe('the console watcher ends on a failure line', () => {
  it('rejects with ConsoleFailedError and the tail a grace time after the line, not at the timeout', async () => {
    const t0 = Date.now();
    const cmd = { file: 'sh', args: ['-c', 'echo booting; echo "xenroot-initrd: FAILED at nfs: mount failed"; echo "xenroot-initrd: halting"; sleep 60'], escape: '\x1d' };
    const err = await expectConsole(cmd, /login: $/, { timeoutMs: 60_000, failPattern: FAILURE_PATTERN, failGraceMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsoleFailedError);
    expect((err as ConsoleFailedError).line).toBe('xenroot-initrd: FAILED at nfs: mount failed');
    expect((err as ConsoleFailedError).lastLines).toContain('xenroot-initrd: halting');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});

describe('the result line of xenroot test', () => {
  const r = {
    image: 'real', pass: true, domain: 'd', uri: 'qemu:///system', target: 'qemu', builder: 'dracut', bootMs: 42_500, match: 'login: ', lastLines: [], reason: undefined, kept: false,
    nfs: { server: '10.0.2.2', path: '/export', port: 2049, private: true },
    initrd: '/b/real/initrd-6.1.0-57-amd64-qemu-dracut.img', initrdSha256: 'ab12cd34ef56'.repeat(5) + 'abcd', initrdBuilt: true,
    kver: '6.1.0-57-amd64', kernel: '/b/real/vmlinuz-6.1.0-57-amd64', kernelSha256: '0123456789ab'.repeat(5) + '0123', cmdline: 'root=nfs4:...',
    timeline: [{ stage: 'kernel', ms: 3000 }, { stage: 'initrd', ms: 6500 }, { stage: 'ready', ms: 42_500 }], failedStage: undefined, failure: undefined, initrdsSeen: ['dracut'], failureSeenMs: undefined, endedMs: 42_600,
  } as const;

  it('PASS names the initrd (file, sha256 prefix), the kernel and the image, and prints the timeline', async () => {
    const { formatTestResult } = await import('../../src/cli/test.js');
    const text = formatTestResult(structuredClone(r) as never);
    expect(text).toMatch(/^PASS real: up in 42\.5 s with the dracut initrd \/b\/real\/initrd-6\.1\.0-57-amd64-qemu-dracut\.img \(sha256 ab12cd34ef56, built now\), kernel 6\.1\.0-57-amd64 \(sha256 0123456789ab\), image real, qemu/);
    expect(text).toContain('timeline: kernel 3.0 s, initrd 6.5 s, ready 42.5 s');
  });

  it('FAIL names the stage and shows the console tail', async () => {
    const { formatTestResult } = await import('../../src/cli/test.js');
    const text = formatTestResult({ ...structuredClone(r), pass: false, reason: 'the dracut initrd failed at nfs: the NFS server has no 10.0.2.2:/nope', failedStage: 'nfs', lastLines: ['mount.nfs4: mounting 10.0.2.2:/nope failed'] } as never);
    expect(text).toMatch(/^FAIL real: the dracut initrd failed at nfs: .* \[stage: nfs\]\n  booted: the dracut initrd /);
    expect(text).toMatch(/last console lines:\n  mount\.nfs4: mounting/);
  });
});
