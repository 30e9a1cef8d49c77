/**
 * The commander program of the xenroot CLI: the global options and every command module
 * (commands.ts). Built here, apart from the entry (main.ts), so that a test can walk the very
 * program users run without running it.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { CliContext } from './context.js';
import { commandModules } from './commands.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

/** The program with every command registered; each command exits through the error boundary (exitOverride). */
export function buildProgram(): Command {
  const program = new Command('xenroot');
  program
    .description('stateless Linux machines on Xen and libvirt from one NFS root image')
    .version(version, '-V, --version')
    .option('-i, --inventory <path>', 'inventory file (default: $XENROOT_INVENTORY or /etc/xenroot/inventory.yaml)')
    .option('-c, --connect <uri>', 'hypervisor URI (default: $XENROOT_CONNECT, the guest\'s, or the site\'s)')
    .option('--allow-unverified-host-key', 'connect through a URI that skips the check of the host\'s key (no_verify=1, known_hosts_verify=ignore, command=): only where you accept that anyone in the middle can pose as the host')
    .option('--json', 'machine-readable results on stdout')
    .option('-v, --verbose', 'debug logging on stderr')
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.configureOutput({ outputError: (str, write) => write(str) });
  program.hook('preAction', async (cmd) => {
    const o = cmd.optsWithGlobals<{ verbose?: boolean; quiet?: boolean; allowUnverifiedHostKey?: boolean }>();
    if (o.allowUnverifiedHostKey) (await import('../ops/hosts.js')).allowUnverifiedHostKeys();
    if (o.verbose || o.quiet) (await import('../sys/log.js')).setLogLevel(o.verbose ? 'debug' : 'warn');
  });
  const ctx = new CliContext(program);
  for (const m of commandModules) m.register(program, ctx);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

