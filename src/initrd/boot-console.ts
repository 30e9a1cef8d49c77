/**
 * What a boot console says, for `xenroot test`: the stage markers of each initrd (a per-stage
 * timeline), which initrd ran (the proof a result names the initrd it booted), and the failure
 * signatures of every supported initrd and of the kernel (to end a test within seconds of one).
 * Pure: text in, facts out. The lines are those seen on real consoles (notes of earlier work: dracut 059
 * network-legacy, initramfs-tools 0.142 with xenroot's boot script, the built-in initrd, Debian
 * 6.1 kernels, systemd 252; dracut's own texts in modules.d/99base/init.sh and dracut-lib.sh).
 */
import type { InitrdBuilder } from '../inventory/schema.js';

/** Boot stages in order. */
export const STAGES = ['firmware', 'kernel', 'initrd', 'nic', 'lease', 'nfs', 'switch_root', 'init', 'ready'] as const;
export type Stage = (typeof STAGES)[number];

type Marker = { stage: Stage; re: RegExp; initrd?: InitrdBuilder };

/**
 * Console lines that mark a stage. `initrd` names the initrd a line belongs to: seeing it proves
 * that initrd ran (dracut's lines are kmsg info level: `rd.info` shows them under `quiet`).
 */
const MARKERS: Marker[] = [
  { stage: 'firmware', re: /SeaBIOS|iPXE|Xen version|OVMF|UEFI/ },
  { stage: 'kernel', re: /Linux version \d/ },
  // built-in
  { stage: 'initrd', re: /xenroot-initrd: starting on/, initrd: 'builtin' },
  { stage: 'nic', re: /xenroot-initrd: interface \S+/, initrd: 'builtin' },
  { stage: 'lease', re: /xenroot-initrd: address \S+ on/, initrd: 'builtin' },
  { stage: 'nfs', re: /xenroot-initrd: nfs root mounted/, initrd: 'builtin' },
  { stage: 'switch_root', re: /xenroot-initrd: switching to/, initrd: 'builtin' },
  // initramfs-tools with xenroot's boot script
  { stage: 'initrd', re: /xenroot-initramfs: starting on/, initrd: 'initramfs-tools' },
  { stage: 'nic', re: /IP-Config: \S+ hardware address/, initrd: 'initramfs-tools' },
  { stage: 'lease', re: /xenroot-initramfs: address \S+ on/, initrd: 'initramfs-tools' },
  { stage: 'nfs', re: /xenroot-initramfs: nfs root mounted/, initrd: 'initramfs-tools' },
  { stage: 'switch_root', re: /xenroot-initramfs: switching to/, initrd: 'initramfs-tools' },
  // dracut (network-legacy)
  { stage: 'initrd', re: /dracut: dracut-\d|dracut: Debian|dracut: \S+ GNU\/Linux/, initrd: 'dracut' },
  { stage: 'nic', re: /dracut: Starting dhcp for interface|dhcp: PREINIT/, initrd: 'dracut' },
  { stage: 'lease', re: /dhcp: BOUND setting up/, initrd: 'dracut' },
  { stage: 'nfs', re: /dracut: Mounted root filesystem/, initrd: 'dracut' },
  { stage: 'switch_root', re: /dracut: Switching root/, initrd: 'dracut' },
  // the root's init: systemd, or the tiny image's
  { stage: 'init', re: /Welcome to .*!|systemd\[1\]: |xenroot-tiny: / },
];

/** Lines only a given initrd prints, to tell which one ran (also when it fails early). */
const IDENTITY: { initrd: InitrdBuilder; re: RegExp }[] = [
  { initrd: 'builtin', re: /xenroot-initrd: / },
  { initrd: 'initramfs-tools', re: /xenroot-initramfs: |^Loading, please wait\.\.\.|\(initramfs\) / },
  { initrd: 'dracut', re: /dracut: |dracut Warning: |dracut-initqueue/ },
];

export interface BootFailure {
  /** The line that shows the failure. */
  line: string;
  /** Who reports it: an initrd, or the kernel. */
  by: InitrdBuilder | 'kernel' | 'systemd';
  /** The stage named by the failure itself (built-in/xenroot script: FAILED at STEP), when it names one. */
  step: string | undefined;
  /** What it means, in a few words. */
  what: string;
}

type Signature = { re: RegExp; by: BootFailure['by']; what: string | ((m: RegExpExecArray) => string); step?: (m: RegExpExecArray) => string };

const FAILURES: Signature[] = [
  { re: /xenroot-initrd: FAILED at (\S+): (.*)/, by: 'builtin', step: (m) => m[1]!, what: (m) => m[2]!.trim() },
  { re: /xenroot-initramfs: FAILED at (\S+): (.*)/, by: 'initramfs-tools', step: (m) => m[1]!, what: (m) => m[2]!.trim() },
  { re: /Target filesystem doesn't have requested (\S+)\./, by: 'initramfs-tools', step: () => 'switch_root', what: (m) => `the root has no ${m[1]}` },
  { re: /No init found\. Try passing init= bootarg\./, by: 'initramfs-tools', step: () => 'switch_root', what: 'the root has no init' },
  { re: /^\(initramfs\) ?$/m, by: 'initramfs-tools', what: 'initramfs-tools dropped to its (initramfs) shell' },
  { re: /dracut: FATAL: (.*)/, by: 'dracut', what: (m) => m[1]!.trim() },
  { re: /Cannot find init!/, by: 'dracut', step: () => 'switch_root', what: 'the root has no init' },
  { re: /Could not boot\./, by: 'dracut', what: 'dracut could not boot (its initqueue timed out)' },
  { re: /Can't mount root filesystem/, by: 'dracut', step: () => 'nfs', what: 'dracut cannot mount the root filesystem' },
  // mount.nfs (dracut's NFS mount) with the server's definite answer: waiting rd.retry seconds changes nothing.
  { re: /mount\.nfs4?: mounting (\S+) failed, reason given by server: No such file or directory/, by: 'dracut', step: () => 'nfs', what: (m) => `the NFS server has no ${m[1]}` },
  { re: /Entering emergency mode/, by: 'dracut', what: 'emergency mode' },
  { re: /Boot has failed\. To debug/, by: 'dracut', what: 'dracut gave up (rd.shell=0)' },
  { re: /^dracut:\/# ?$/m, by: 'dracut', what: 'dracut dropped to its emergency shell' },
  { re: /VFS: Unable to mount root fs[^\n]*/, by: 'kernel', step: () => 'initrd', what: (m) => m[0].trim() },
  { re: /No working init found[^\n]*/, by: 'kernel', step: () => 'initrd', what: 'the initrd has no init the kernel can run' },
  { re: /Kernel panic - not syncing: ([^\n]*)/, by: 'kernel', what: (m) => `kernel panic: ${m[1]!.trim()}` },
  { re: /Failed to execute \/init \(error -?\d+\)/, by: 'kernel', step: () => 'initrd', what: 'the kernel cannot run the initrd\'s /init' },
  { re: /Freezing execution\./, by: 'systemd', what: 'systemd froze (a fatal error in PID 1)' },
];

/** The first failure signature in console text, if any. */
export function findFailure(text: string): BootFailure | undefined {
  let best: { at: number; f: BootFailure } | undefined;
  for (const s of FAILURES) {
    const m = new RegExp(s.re.source, s.re.flags.replace('g', '')).exec(text);
    if (!m) continue;
    // The earliest line wins; on one line, the more specific signature (listed first).
    const at = text.lastIndexOf('\n', m.index);
    if (best && best.at <= at) continue;
    best = { at, f: { line: m[0].trim(), by: s.by, step: s.step?.(m), what: typeof s.what === 'string' ? s.what : s.what(m) } };
  }
  return best?.f;
}

/** One regular expression matching any failure signature (for a console watcher). */
export const FAILURE_PATTERN = new RegExp(FAILURES.map((s) => `(?:${s.re.source})`).join('|'), 'm');

/** The initrds whose lines the console shows. */
export function initrdsSeen(text: string): InitrdBuilder[] {
  return IDENTITY.filter((i) => new RegExp(i.re.source, 'm').test(text)).map((i) => i.initrd);
}

/** The line an initrd prints at its start, as docs and messages name it. */
export const INITRD_START: Record<InitrdBuilder, string> = {
  builtin: 'xenroot-initrd: starting on KVER',
  'initramfs-tools': 'xenroot-initramfs: starting on KVER',
  dracut: 'dracut: <OS name> (kmsg info level: rd.info shows it under quiet)',
  mkinitrd: '(none known)',
};

/**
 * First-seen times of the stage markers, fed with console text as it arrives (ms since the guest
 * was created). Stages an initrd does not mark stay unset.
 */
export class BootTimeline {
  readonly at = new Map<Stage, number>();
  /** The console text so far (the last 256-512 KiB). */
  text = '';

  /** When a failure signature first showed (ms), if one did. */
  failedAt: number | undefined;

  feed(chunk: string, ms: number): void {
    this.text += chunk;
    if (this.text.length > 512 * 1024) this.text = this.text.slice(-256 * 1024);
    for (const m of MARKERS) if (!this.at.has(m.stage) && m.re.test(this.text)) this.at.set(m.stage, ms);
    if (this.failedAt === undefined && FAILURE_PATTERN.test(this.text)) this.failedAt = ms;
  }

  mark(stage: Stage, ms: number): void {
    if (!this.at.has(stage)) this.at.set(stage, ms);
  }

  /** The last stage reached, in stage order. */
  lastStage(): Stage | undefined {
    let last: Stage | undefined;
    for (const s of STAGES) if (this.at.has(s)) last = s;
    return last;
  }

  /** The stage a failure belongs to: the one it names, else the first one not reached after the last reached. */
  failedStage(f: BootFailure): string {
    if (f.step) return f.step;
    const last = this.lastStage();
    const i = last ? STAGES.indexOf(last) : -1;
    return STAGES[Math.min(i + 1, STAGES.length - 1)]!;
  }

  /** [stage, ms] in stage order, reached stages only. */
  entries(): [Stage, number][] {
    return STAGES.filter((s) => this.at.has(s)).map((s) => [s, this.at.get(s)!]);
  }
}
