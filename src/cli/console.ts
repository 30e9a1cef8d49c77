/** `xenroot console NAME [--expect REGEX --timeout S --log FILE]`. */
import type { Command } from 'commander';
import { HypervisorError } from '../sys/errors.js';
import type { AttachResult } from '../ops/guest-console.js';
import type { CliContext } from './context.js';
import { intOption, regexOption } from './context.js';
import { hostOptions, secondsOption } from './hvopts.js';

/**
 * Tells how an interactive console ended. A crash is an error: HypervisorError (exit 5), printed
 * by the CLI's error boundary.
 */
export function printAttachOutcome(name: string, a: AttachResult): void {
  if (a.outcome === 'crashed') {
    process.stderr.write('\n');
    throw new HypervisorError(`${name} crashed`, { hint: `its console log says why (xenroot console ${name} --log-tail)` });
  }
  const msg: Record<Exclude<AttachResult['outcome'], 'crashed'>, string> = {
    detached: `detached from ${name}; it keeps running`,
    shutdown: `${name} shut down${a.state ? ` (state ${a.state})` : ''}`,
    closed: `the console of ${name} closed${a.exitCode ? ` (exit ${a.exitCode})` : ''}`,
  };
  process.stderr.write(`\nxenroot: ${msg[a.outcome]}\n`);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('console <name>')
    .description('attach to a guest\'s console (Ctrl-] detaches), or wait for a pattern with --expect')
    .option('--expect <regex>', 'do not attach: exit 0 once the console shows REGEX, non-zero on timeout or when the guest stops', regexOption('--expect'))
    .option('--timeout <s>', 'seconds to wait for --expect (default 60)', secondsOption('--timeout'))
    .option('--log <file>', 'append everything the console prints to FILE (with --expect)')
    .option('--log-tail [n]', 'do not attach: print the last N lines (default 50) of the console log its host keeps')
    .option('--since <when>', 'with --log-tail: from `start` (the latest start by xenroot) or a time (2026-11-29T20:00, 10m, 2h)')
    .action(async (name: string, o: { expect?: RegExp; timeout?: number; log?: string; logTail?: string | boolean; since?: string }) => {
      const { guestConsole } = await import('../ops/guest-console.js');
      const file = await ctx.inventoryPath();
      if (o.logTail !== undefined || o.since !== undefined) {
        const { readConsoleLog, parseSince } = await import('../ops/console-log.js');
        const tail = typeof o.logTail === 'string' ? intOption('--log-tail', 1, 1_000_000)(o.logTail) : undefined;
        const r = await readConsoleLog(file, name, { ...hostOptions(ctx, {}), ...(tail !== undefined ? { tail } : {}), ...(o.since ? { since: parseSince(o.since) } : {}) });
        ctx.print(r, () => r.lines.join('\n'));
        return;
      }
      if (o.expect) {
        const r = await guestConsole(file, name, {
          ...hostOptions(ctx, {}),
          expect: o.expect,
          timeoutMs: o.timeout ?? 60_000,
          ...(o.log ? { logFile: o.log } : {}),
        });
        ctx.print({ name, matched: true, match: r.match, ms: r.ms }, () => `${name}: console showed "${r.match}" after ${(r.ms / 1000).toFixed(1)} s`);
        return;
      }
      const a = await guestConsole(file, name, { ...hostOptions(ctx, {}), onAttach: () => process.stderr.write(`xenroot: attached to ${name} (escape: Ctrl-])\n`) });
      printAttachOutcome(name, a);
    });
}
