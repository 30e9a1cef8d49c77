/** `xenroot console NAME [--expect REGEX --timeout S --log FILE]`. */
import type { Command } from 'commander';
import { HypervisorError } from '../sys/errors.js';
import type { AttachResult } from '../ops/guest-console.js';
import type { CliContext } from './context.js';
import { hostOptions } from './hvopts.js';
import { addOptions, integer, opt, optionValues, path, regex, seconds } from './options.js';

const CONSOLE = {
  expect: regex('--expect <regex>', 'do not attach: exit 0 once the console shows REGEX, non-zero on timeout or when the guest stops'),
  timeoutMs: seconds('--timeout <s>', 'seconds to wait for --expect (default 60)'),
  logFile: path('--log <file>', 'append everything the console prints to FILE (with --expect)'),
  tail: integer('--log-tail [n]', 'do not attach: print the last N lines (default 50) of the console log its host keeps', 1, 1_000_000),
  since: opt({ flags: '--since <when>', help: 'with --log-tail: from `start` (the latest start by xenroot) or a time (2026-11-29T20:00, 10m, 2h)' }),
};

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
  addOptions(program.command('console <name>').description('attach to a guest\'s console (Ctrl-] detaches), or wait for a pattern with --expect'), CONSOLE)
    .action(async (name: string, parsed: Record<string, unknown>) => {
      // --log-tail without N is `true` to commander: the flag alone, the default count.
      const { tail, since, ...o } = optionValues(CONSOLE, parsed) as Omit<ReturnType<typeof optionValues<typeof CONSOLE>>, 'tail'> & { tail?: number | true };
      const { guestConsole } = await import('../ops/guest-console.js');
      const file = await ctx.inventoryPath();
      if (tail !== undefined || since !== undefined) {
        const { readConsoleLog, parseSince } = await import('../ops/console-log.js');
        const r = await readConsoleLog(file, name, { ...hostOptions(ctx, {}), ...(typeof tail === 'number' ? { tail } : {}), ...(since ? { since: parseSince(since) } : {}) });
        ctx.print(r, () => r.lines.join('\n'));
        return;
      }
      if (o.expect) {
        const r = await guestConsole(file, name, {
          ...hostOptions(ctx, {}),
          ...o,
          expect: o.expect,
          timeoutMs: o.timeoutMs ?? 60_000,
        });
        ctx.print({ name, matched: true, match: r.match, ms: r.ms }, () => `${name}: console showed "${r.match}" after ${(r.ms / 1000).toFixed(1)} s`);
        return;
      }
      const a = await guestConsole(file, name, { ...hostOptions(ctx, {}), onAttach: () => process.stderr.write(`xenroot: attached to ${name} (escape: Ctrl-])\n`) });
      printAttachOutcome(name, a);
    });
}
