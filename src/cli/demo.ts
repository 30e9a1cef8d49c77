import type { Command } from 'commander';
import { intOption, type CliContext } from './context.js';
import { escapeForTerminal } from '../sys/terminal.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('build a tiny image, serve it over NFS, create the guest Terminal, boot it and attach its console')
    .option('--dir <dir>', 'working directory for the demo\'s inventory, image and boot files', 'xenroot-demo')
    .option('--no-interactive', 'do not attach interactively: wait for the image\'s marker, print the console, stop')
    .option('--timeout <s>', 'seconds to wait for the guest (non-interactive; default 120, 300 with --real)', intOption('--timeout', 1, 3600))
    .option('--real', 'boot a real Debian 12 systemd image (made with mmdebstrap the first time) instead of the tiny one')
    .action(async (o: { dir: string; interactive: boolean; timeout?: number; real?: boolean }) => {
      const { runDemo } = await import('../ops/demo.js');
      const r = await runDemo({
        dir: o.dir,
        real: !!o.real,
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
