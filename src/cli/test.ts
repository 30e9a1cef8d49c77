import type { Command } from 'commander';
import { DOMAIN_TARGETS, INITRD_BUILDERS } from '../inventory/constants.js';
import type { CliContext } from './context.js';
import { addOptions, flag, integer, modelChoice, optionValues, path, regex } from './options.js';
import type { TestImageResult } from '../ops/test-image.js';

const TEST = {
  target: modelChoice('--target <target>', 'qemu (the QEMU test domain, where Xen is absent) or xen', DOMAIN_TARGETS, 'qemu'),
  builder: modelChoice('--initrd-builder <builder>', `${INITRD_BUILDERS.join(', ')} (default: the image's, else builtin)`, INITRD_BUILDERS),
  expect: regex('--expect <regex>', 'readiness pattern (default: the image\'s readyPattern, else a login prompt or the multi-user target)', 'm'),
  timeout: integer('--timeout <s>', 'seconds to wait for it (default 120)', 1, 3600, 120),
  keep: flag('--keep', 'leave the throwaway guest running'),
  serveNfs: flag('--serve-nfs', 'serve the image while the test runs with a private NFS server that only the throwaway guest reaches'),
  memory: integer('--memory <MiB>', 'memory of the throwaway guest (default 512)', 64, 65536),
  logFile: path('--log <file>', 'write the console transcript to a file'),
  rebuild: flag('--rebuild', 'build the initrd again even when the staged one was made from this kernel, image and builder'),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('test <image>').description('boot an image in a throwaway VM and wait for it to come up: PASS/FAIL with the boot time'), TEST).action(
    async (image: string, parsed: Record<string, unknown>) => {
      const { timeout, ...o } = optionValues(TEST, parsed);
      const { testImage, assertPassed } = await import('../ops/test-image.js');
      const r = await testImage(await ctx.inventoryPath(), image, {
        ...o,
        timeoutMs: (timeout ?? 120) * 1000,
        keep: !!o.keep,
        serveNfs: !!o.serveNfs,
        progress: !ctx.json,
        rebuild: !!o.rebuild,
        ...(ctx.options.connect ? { connect: ctx.options.connect } : {}),
      });
      ctx.print(r, () => formatTestResult(r));
      assertPassed(r);
    },
  );
}

/**
 * The human result of `xenroot test`: PASS/FAIL, what was booted (builder, initrd file and sha256
 * prefix, kernel, image), the per-stage timeline; on FAIL the stage and the console tail.
 */
export function formatTestResult(r: TestImageResult): string {
  const booted = `${r.builder} initrd ${r.initrd} (sha256 ${r.initrdSha256.slice(0, 12)}, ${r.initrdBuilt ? 'built now' : 'reused: same kernel, image and builder'}), kernel ${r.kver} (sha256 ${r.kernelSha256.slice(0, 12)}), image ${r.image}, ${r.target}, root ${r.nfs.server}:${r.nfs.path}`;
  const timeline = r.timeline.length ? `\n  timeline: ${r.timeline.map((t) => `${t.stage} ${(t.ms / 1000).toFixed(1)} s`).join(', ')}` : '';
  const recorded = r.record ? `\n  recorded with ${r.image} (${r.record.pass ? 'PASS' : 'FAIL'} ${r.record.date})` : '';
  return r.pass
    ? `PASS ${r.image}: up in ${((r.bootMs ?? 0) / 1000).toFixed(1)} s with the ${booted}${r.kept ? `; guest ${r.domain} kept running` : ''}${timeline}${recorded}`
    : `FAIL ${r.image}: ${r.reason}${r.failedStage ? ` [stage: ${r.failedStage}]` : ''}\n  booted: the ${booted}${timeline}\nlast console lines:\n  ${r.lastLines.join('\n  ')}\ntranscript: ${r.transcript}${recorded}`;
}
