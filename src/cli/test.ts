import type { Command } from 'commander';
import { DOMAIN_TARGETS, INITRD_BUILDERS, type DomainTarget, type InitrdBuilder } from '../inventory/constants.js';
import { choiceOption, intOption, regexOption, type CliContext } from './context.js';
import type { TestImageResult } from '../ops/test-image.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('test <image>')
    .description('boot an image in a throwaway VM and wait for it to come up: PASS/FAIL with the boot time')
    .option('--target <target>', 'qemu (the QEMU test domain, where Xen is absent) or xen', choiceOption('--target', DOMAIN_TARGETS), 'qemu')
    .option('--initrd-builder <builder>', `${INITRD_BUILDERS.join(', ')} (default: the image's, else builtin)`, choiceOption('--initrd-builder', INITRD_BUILDERS))
    .option('--expect <regex>', 'readiness pattern (default: the image\'s readyPattern, else a login prompt or the multi-user target)', regexOption('--expect', 'm'))
    .option('--timeout <s>', 'seconds to wait for it (default 120)', intOption('--timeout', 1, 3600), 120)
    .option('--keep', 'leave the throwaway guest running')
    .option('--serve-nfs', 'serve the image while the test runs with a private NFS server that only the throwaway guest reaches')
    .option('--memory <MiB>', 'memory of the throwaway guest (default 512)', intOption('--memory', 64, 65536))
    .option('--log <file>', 'write the console transcript to a file')
    .option('--rebuild', 'build the initrd again even when the staged one was made from this kernel, image and builder')
    .action(async (image: string, o: { target: DomainTarget; initrdBuilder?: InitrdBuilder; expect?: RegExp; timeout: number; keep?: boolean; serveNfs?: boolean; memory?: number; log?: string; rebuild?: boolean }) => {
      const expect = o.expect;
      const { testImage, assertPassed } = await import('../ops/test-image.js');
      const r = await testImage(await ctx.inventoryPath(), image, {
        target: o.target,
        timeoutMs: o.timeout * 1000,
        keep: !!o.keep,
        serveNfs: !!o.serveNfs,
        progress: !ctx.json,
        rebuild: !!o.rebuild,
        ...(o.initrdBuilder ? { builder: o.initrdBuilder } : {}),
        ...(expect ? { expect } : {}),
        ...(ctx.options.connect ? { connect: ctx.options.connect } : {}),
        ...(o.memory ? { memory: o.memory } : {}),
        ...(o.log ? { logFile: o.log } : {}),
      });
      ctx.print(r, () => formatTestResult(r));
      assertPassed(r);
    });
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
