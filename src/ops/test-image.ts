/**
 * `xenroot test IMAGE`: proves an image boots before any physical machine sees it. Stages the
 * image's kernel and initrd, makes sure the image is exported (with --serve-nfs: a private
 * nfs-ganesha in a network namespace of its own for as long as the test runs, which only the
 * throwaway guest's QEMU enters), boots a throwaway guest of the image
 * (the QEMU test domain through libvirt's qemu driver where Xen is absent, the Xen PV domain on
 * a Xen host), waits on its console for the image's readiness pattern, and removes the guest.
 *
 * Where no libvirtd answers at qemu:///system, a private one is started for the test
 * (src/hypervisor/local-libvirtd.ts) and stopped afterwards.
 *
 * A result never names an initrd it did not boot: the throwaway guest boots exactly the
 * staged kernel and initrd of the chosen builder (one file per builder, reused only when its stamp
 * holds), the result names them with their sha256, and a PASS needs the console to show that
 * initrd's own lines. The console is watched for the failure signatures of every supported initrd
 * and of the kernel (src/initrd/boot-console.ts): a test ends within seconds of one, naming the
 * stage, with the console tail; the boot args of a test make every initrd give up instead of
 * waiting at a shell (`rd.shell=0 panic=1`, dracut `rd.retry=`). Stage markers give a timeline.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeTempDir } from '../sys/tmp.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { renderXlCfg } from '../render/xlcfg.js';
import { TestFailedError } from '../sys/errors.js';
import { onCleanup } from '../sys/lifetime.js';
import { startNfsServer, type NfsServer } from '../deploy/nfs-server.js';
import { expectConsole, ConsoleTimeoutError, ConsoleEndedError, ConsoleFailedError } from '../hypervisor/console.js';
import { resolveUri } from '../hypervisor/connect.js';
import { connectOrStartPrivate } from '../hypervisor/ensure.js';
import type { LocalLibvirtd } from '../hypervisor/local-libvirtd.js';
import type { Hypervisor } from '../hypervisor/types.js';
import { withImageSession } from '../image/session.js';
import type { DomainTarget, InitrdBuilder, InventoryData } from '../inventory/schema.js';
import { loadInventory } from './steps/store.js';
import { guestSpec } from '../render/guest-spec.js';
import { log } from '../sys/log.js';
import { requireEntry } from '../inventory/lookup.js';
import { exportPath, stateDir } from '../inventory/paths.js';
import { stageBootFiles } from './build-initrd.js';
import { recordTest, testSubject } from './revisions.js';
import type { TestRecord } from '../inventory/revisions.js';
import { BootTimeline, FAILURE_PATTERN, findFailure, initrdsSeen, INITRD_START, type BootFailure, type Stage } from '../initrd/boot-console.js';
import { InitrdError } from '../sys/errors.js';

/** Readiness when the image names none: a login prompt or systemd's multi-user target. */
export const DEFAULT_READY = /login: *$|Reached target .*Multi-User System/m;

export interface TestImageOptions {
  target?: DomainTarget;
  builder?: InitrdBuilder;
  /** Readiness pattern (default: the image's readyPattern, else DEFAULT_READY). */
  expect?: RegExp;
  timeoutMs?: number;
  /** Leave the throwaway guest running. */
  keep?: boolean;
  /** Serve the image with a private NFS server for the test's lifetime, reachable by the throwaway guest only. */
  serveNfs?: boolean;
  connect?: string;
  memory?: number;
  /** Console transcript file. */
  logFile?: string;
  progress?: boolean;
  /** Build the initrd again even when the staged one's stamp holds. */
  rebuild?: boolean;
}

export interface TestImageResult {
  image: string;
  pass: boolean;
  domain: string;
  uri: string;
  target: DomainTarget;
  builder: InitrdBuilder;
  /** From domain creation to the readiness line, ms. */
  bootMs: number | undefined;
  match: string | undefined;
  /** Console tail (on failure). */
  lastLines: string[];
  reason: string | undefined;
  kept: boolean;
  nfs: { server: string; path: string; port: number | undefined; private: boolean };
  /** IMAGE@REV: the result as recorded with the revision. */
  record?: TestRecord | undefined;
  /** The console transcript of this test run (--log FILE, else STATE/tests/IMAGE-TIME.log); kept with the result. */
  transcript: string;
  /** The initrd the throwaway guest booted, its sha256, and whether it was built for this test. */
  initrd: string;
  initrdSha256: string;
  initrdBuilt: boolean;
  /** The kernel it booted (release, file, sha256). */
  kver: string;
  kernel: string;
  kernelSha256: string;
  /** The kernel command line it booted with. */
  cmdline: string;
  /** First-seen times of the boot stages (ms from domain creation), in stage order. */
  timeline: { stage: Stage; ms: number }[];
  /** On failure: the stage it failed at, and the failure line the console showed (if any). */
  failedStage: string | undefined;
  failure: BootFailure | undefined;
  /** The initrds whose own lines the console showed. */
  initrdsSeen: InitrdBuilder[];
  /** On failure: when the console first showed the failure, and when the test stopped waiting (ms from domain creation). */
  failureSeenMs: number | undefined;
  endedMs: number | undefined;
}

/**
 * What a test boot adds to the command line, in the dialect of its initrd: no shell on a failure
 * (rd.shell=0: dracut and the built-in), a panic reboots at once (panic=1; the test domain is
 * destroyed on reboot), dracut's own lines under quiet (rd.info) and a bounded wait for the root
 * (rd.retry=30 instead of 180 s). Every test boot also gets `no_timer_check`: under QEMU TCG on a
 * busy host Linux's IO-APIC timer check (arch/x86/kernel/apic/io_apic.c, check_timer) can misjudge
 * the emulated timer and panic with "IO-APIC + timer doesn't work!" (seen in this suite under load);
 * the parameter skips that check (Documentation/admin-guide/kernel-parameters.txt) and is ignored
 * where there is no IO-APIC (Xen PV).
 */
export function testBootArgs(builder: InitrdBuilder): string {
  switch (builder) {
    case 'builtin':
      return 'rd.shell=0 panic=1 no_timer_check';
    case 'dracut':
      return 'rd.shell=0 rd.info rd.retry=30 panic=1 no_timer_check';
    case 'initramfs-tools':
    case 'mkinitrd':
      return 'panic=1 no_timer_check';
  }
}

/** A copy of the model with one throwaway guest and the NFS settings the test boots with. */
export function testModel(
  data: InventoryData,
  imageName: string,
  domain: string,
  nfs: { server: string; path: string; port?: number },
  memory: number,
  builder?: InitrdBuilder,
): InventoryData {
  const model = structuredClone(data);
  const image = model.images[imageName]!;
  image.export = nfs.path;
  if (nfs.port !== undefined) image.nfsOptions = [image.nfsOptions ?? model.site.nfsOptions, `port=${nfs.port}`].filter(Boolean).join(',');
  // The initrd this test boots decides the file and the command line dialect.
  if (builder) image.initrdBuilder = builder;
  model.site.nfsServer = nfs.server;
  const append = builder ? testBootArgs(builder) : undefined;
  model.guests = { [domain]: { image: imageName, memory, vcpus: 1, onPoweroff: 'destroy', onReboot: 'destroy', onCrash: 'destroy', ...(append ? { append } : {}) } };
  return model;
}

/** Why a boot that reached its readiness line does not prove the initrd under test (undefined: it does). */
function initrdProof(builder: InitrdBuilder, seen: InitrdBuilder[]): string | undefined {
  if (builder === 'mkinitrd') return undefined; // no known line of its own
  if (seen.includes(builder)) return undefined;
  const others = seen.filter((b) => b !== builder);
  if (others.length) return `the console shows the ${others.join(' and ')} initrd's lines, not the ${builder} initrd's: it did not boot the initrd under test`;
  return `the console never showed a line of the ${builder} initrd (${INITRD_START[builder]}): it cannot prove which initrd booted`;
}

export async function testImage(inventoryFile: string, imageName: string, opts: TestImageOptions = {}): Promise<TestImageResult> {
  const loaded = await loadInventory(inventoryFile);
  // IMAGE@REV: the published revision, tested as the model entry of that name; its result is recorded.
  const subject = testSubject(loaded.data, imageName);
  const inv = { data: subject.data };
  if (subject.revision && !opts.logFile) opts = { ...opts, logFile: subject.revision.logFile };
  const image = requireEntry(inv.data, 'image', imageName);
  const target = opts.target ?? 'qemu';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const ready = opts.expect ?? (image.readyPattern ? new RegExp(image.readyPattern, 'm') : DEFAULT_READY);
  const domain = `xenroot-test-${imageName}-${randomBytes(3).toString('hex')}`.slice(0, 63);
  // Every run keeps its console transcript: the file named by --log, else one in the state dir.
  const transcript = opts.logFile ?? join(stateDir(inventoryFile, loaded.data.site), 'tests', `${imageName}-${new Date().toISOString().replace(/[:.]/g, '-')}-${domain.slice(-6)}.log`);
  await mkdir(dirname(transcript), { recursive: true });

  /** root: where the image's tree is (its directory, or the mount of its loop image file). */
  const run = async (root: string | undefined): Promise<TestImageResult> => {
    const staged = await stageBootFiles(inv.data.site, imageName, image, target, {
      ...(opts.builder ? { builder: opts.builder } : {}),
      progress: !!opts.progress,
      rebuild: !!opts.rebuild,
      ...(root ? { root } : {}),
    });
    const exportDir = root;
    let nfs: NfsServer | undefined;
    let local: LocalLibvirtd | undefined;
    let h: Hypervisor | undefined;
    let kept = false;
    let destroyGuest: (() => Promise<void>) | undefined;
    let keepGuest: (() => void) | undefined;
    let removeCfg: (() => Promise<void>) | undefined;
    try {
      let nfsInfo: TestImageResult['nfs'];
      if (opts.serveNfs) {
        log().info({ step: 'serve-nfs', path: exportDir }, `serving ${exportDir} over NFS in a network namespace of its own`);
        // Only the throwaway guest reaches it: its QEMU runs in the server's namespace (spec.emulator
        // below), where QEMU's user network shows the namespace's loopback as 10.0.2.2.
        nfs = await startNfsServer({ exports: [{ path: exportDir as string }], netns: true });
        nfsInfo = { server: '10.0.2.2', path: nfs.exports[0]!.pseudo, port: nfs.port, private: true };
      } else {
        nfsInfo = { server: inv.data.site.nfsServer, path: exportPath(inv.data.site, imageName, image), port: undefined, private: false };
      }
      const model = testModel(inv.data, imageName, domain, { server: nfsInfo.server, path: nfsInfo.path, ...(nfsInfo.port ? { port: nfsInfo.port } : {}) }, opts.memory ?? 512, staged.builder);
      const uri = resolveUri({ flag: opts.connect, site: target === 'qemu' ? 'qemu:///system' : inv.data.site.connect });
      log().info({ step: 'connect', uri }, `connecting to ${uri}`);
      ({ h, local } = await connectOrStartPrivate(uri, target === 'qemu' && !opts.connect && !process.env.XENROOT_CONNECT));
      const hv = h;
      log().info({ step: 'boot', domain }, `booting the throwaway guest ${domain}`);
      const t0 = Date.now();
      // The throwaway guest goes on every way out, an interrupt included. An interrupt that lands
      // while the create call is in flight must wait for it: destroying before the domain exists
      // fails, and the domain the daemon then finishes creating would outlive the command.
      let creating: Promise<unknown> = Promise.resolve();
      const undoGuest = onCleanup(`throwaway guest ${domain}`, async () => {
        await creating.catch(() => undefined);
        if ((await hv.state(domain).catch(() => 'unknown')) === 'undefined') return;
        await hv.destroy(domain).catch((e: unknown) => log().warn({ err: String(e) }, 'could not destroy the throwaway guest'));
      });
      destroyGuest = () => undoGuest.run();
      keepGuest = () => undoGuest.release();
      const spec = guestSpec(model, domain, target, undefined, { ramdisk: 'image' });
      // The guest boots exactly what was staged for this builder, nothing else.
      if (spec.initrd !== staged.initrd || spec.kernel !== staged.kernel)
        throw new InitrdError(`internal: the throwaway guest would boot ${spec.kernel} + ${spec.initrd}, not the staged ${staged.kernel} + ${staged.initrd}`);
      if (nfs?.qemuEmulator && target === 'qemu') spec.emulator = nfs.qemuEmulator;
      // A driver that boots a .cfg (xl) gets the throwaway guest's own, in a private temp dir.
      const cfgDir = await makeTempDir('xenroot-test-');
      removeCfg = cfgDir.remove;
      const cfg = join(cfgDir.path, `${domain}.cfg`);
      await writeFileAtomic(cfg, renderXlCfg(spec));
      creating = hv.create({ spec, target, files: { cfg } });
      await creating;
      log().info({ step: 'wait', domain, uri: hv.uri, builder: staged.builder }, 'throwaway guest started; waiting for the image to come up');
      const timeline = new BootTimeline();
      const base = {
        image: imageName,
        domain,
        uri: hv.uri,
        target,
        builder: staged.builder,
        nfs: nfsInfo,
        initrd: staged.initrd,
        initrdSha256: staged.sha256,
        initrdBuilt: staged.built,
        kver: staged.kver,
        kernel: staged.kernel,
        kernelSha256: staged.kernelSha256,
        cmdline: spec.cmdline,
        transcript,
      };
      const facts = () => ({
        timeline: timeline.entries().map(([stage, ms]) => ({ stage, ms })),
        initrdsSeen: initrdsSeen(timeline.text),
        failureSeenMs: timeline.failedAt,
        endedMs: Date.now() - t0,
      });
      try {
        const r = await expectConsole(hv.consoleCommand(domain), ready, {
          timeoutMs,
          name: domain,
          stateOf: () => hv.state(domain),
          // Times from the domain's creation; the console attaches a moment later.
          onText: (text) => timeline.feed(text, Date.now() - t0),
          failPattern: FAILURE_PATTERN,
          logFile: transcript,
        });
        const bootMs = Date.now() - t0;
        timeline.mark('ready', bootMs);
        const seen = initrdsSeen(timeline.text);
        const notProven = initrdProof(staged.builder, seen);
        if (notProven) return { ...base, ...facts(), pass: false, bootMs: undefined, match: r.match, lastLines: r.lastLines, reason: notProven, kept: false, failedStage: 'initrd', failure: undefined };
        kept = !!opts.keep && !local;
        if (opts.keep && local) log().warn('--keep: the private libvirtd ends with this command, so the guest cannot be kept; use --connect URI of a running libvirtd');
        return { ...base, ...facts(), pass: true, bootMs, match: r.match, lastLines: [], reason: undefined, kept, failedStage: undefined, failure: undefined };
      } catch (err) {
        if (err instanceof ConsoleTimeoutError || err instanceof ConsoleEndedError || err instanceof ConsoleFailedError) {
          const failure = findFailure(timeline.text);
          const stage = failure ? timeline.failedStage(failure) : timeline.failedStage({ line: '', by: 'kernel', step: undefined, what: '' });
          const last = timeline.lastStage();
          const who = failure ? (failure.by === 'kernel' || failure.by === 'systemd' ? `the ${failure.by}` : `the ${failure.by} initrd`) : undefined;
          const reason = failure
            ? `${who} failed at ${stage}: ${failure.what}`
            : `${err.message}; the boot got as far as ${last ?? 'nothing'}${last ? ` (${((timeline.at.get(last) ?? 0) / 1000).toFixed(1)} s)` : ''}, the next stage is ${stage}`;
          return { ...base, ...facts(), pass: false, bootMs: undefined, match: undefined, lastLines: err.lastLines, reason, kept: false, failedStage: stage, failure };
        }
        throw err;
      }
    } finally {
      if (kept) keepGuest?.();
      else if (destroyGuest) await destroyGuest();
      await removeCfg?.();
      if (h) await h.close().catch(() => undefined);
      if (local && !kept) await local.stop();
      if (nfs) await nfs.stop();
    }
  };

  const recorded = async (r: TestImageResult): Promise<TestImageResult> => ({ ...r, record: await recordTest(inventoryFile, subject, r, opts.logFile) });
  if (image.root) return recorded(await run(image.root));
  // A loop image file: one read-only mount of it for the test's lifetime (kernel, initrd, NFS export).
  log().info({ step: 'mount-image', file: image.file }, `mounting ${image.file} read-only`);
  return recorded(await withImageSession({ file: image.file as string }, { chroot: false }, (s) => run(s.root)));
}

/** Throws TestFailedError for a failed result (the CLI prints the details first). */
export function assertPassed(r: TestImageResult): void {
  if (!r.pass) throw new TestFailedError(`image ${r.image} did not come up: ${r.reason ?? 'no readiness line'}`);
}
