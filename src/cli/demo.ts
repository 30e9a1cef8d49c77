import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, flag, integer, opt, optionValues } from './options.js';
import { escapeForTerminal } from '../sys/terminal.js';

const DEMO = {
  dir: opt({ flags: '--dir <dir>', help: 'working directory for the demo\'s inventory, image and boot files', default: 'xenroot-demo' }),
  interactive: flag('--no-interactive', 'do not attach interactively: wait for the image\'s marker, print the console, stop'),
  timeout: integer('--timeout <s>', 'seconds to wait for the guest (non-interactive; default 120, 300 with --real)', 1, 3600),
  real: flag('--real', 'boot a real Debian 12 systemd image (made with mmdebstrap the first time) instead of the tiny one'),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('demo').description('build a tiny image, serve it over NFS, create the guest Terminal, boot it and attach its console'), DEMO)
    .action(async (parsed: Record<string, unknown>) => {
      const o = optionValues(DEMO, parsed);
      const { runDemo } = await import('../ops/demo.js');
      const r = await runDemo({
        ...(o.dir !== undefined ? { dir: o.dir } : {}),
        real: !!o.real,
        // --no-interactive says no; without it, interactive when stdin is a terminal.
        interactive: o.interactive === false ? false : undefined,
        ...(o.timeout ? { timeoutMs: o.timeout * 1000 } : {}),
        say: (l) => process.stderr.write(`xenroot demo: ${escapeForTerminal(l)}\n`),
      });
      ctx.print(r, () =>
        [
          r.console === 'expect' ? `${r.guest} came up in ${((r.bootMs ?? 0) / 1000).toFixed(1)} s on an NFS root; MAC ${r.mac} is pinned.` : `console ended (${r.outcome}); MAC ${r.mac} is pinned.`,
          `inventory: ${r.inventory}`,
          `guest files: ${r.files.cfg}, ${r.files.xml}`,
          `next: xenroot --inventory ${r.inventory} list`,
        ].join('\n'),
      );
    });
}
