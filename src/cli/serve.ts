/** `xenroot serve [--listen ADDR:PORT] [--print-unit]`: the boot service (HTTP boot files, check-ins). */
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import type { CliContext } from './context.js';
import { addOptions, flag, opt, optionValues } from './options.js';

const SERVE = {
  listen: opt({ flags: '--listen <addr:port>', help: 'where to listen (default: site.serve.listen, else the NFS server address, port 8080)' }),
  printUnit: flag('--print-unit', 'print a systemd unit that runs this service, and exit'),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('serve').description('run the boot service: boot files over HTTP and the check-ins of booted nodes (until SIGTERM; SIGHUP reloads)'), SERVE)
    .action(async (parsed: Record<string, unknown>) => {
      const o = optionValues(SERVE, parsed);
      const { parseListen, runServe } = await import('../serve/run.js');
      const file = await ctx.inventoryPath();
      if (o.listen) parseListen(o.listen);
      if (o.printUnit) {
        const { renderServeUnit } = await import('../serve/unit.js');
        const entry = fileURLToPath(new URL('../../bin/xenroot.js', import.meta.url));
        process.stdout.write(renderServeUnit([process.execPath, entry, 'serve', ...(o.listen ? ['--listen', o.listen] : [])], file));
        return;
      }
      const service = await runServe(file, o.listen ? { listen: o.listen } : {});
      await service.stopped;
    });
}
