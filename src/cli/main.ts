/**
 * The xenroot CLI entry: builds the commander program from the command modules and is the one
 * error boundary. A XenrootError prints one line (plus its hint) and exits with its code;
 * commander's usage errors exit 2; anything else is a bug and exits 1. It installs the one signal
 * policy (src/sys/lifetime.ts): SIGINT, SIGTERM and SIGHUP undo whatever was started and end
 * the program with exit code 130, always; this is the only place the process is ended.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { ExitCode, isXenrootError } from '../sys/errors.js';
import { installSignalPolicy, interrupted, runCleanups } from '../sys/lifetime.js';
import { escapeForTerminal } from '../sys/terminal.js';

/** A message as one line: every control character (C0, DEL, C1) written as its JSON escape. */
function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function report(err: unknown, json: boolean): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; its message was already printed.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (isXenrootError(err)) {
    // One line whatever a quoted value held: control characters are shown escaped (\n, \u0085).
    err.message = oneLine(err.message);
    if (json) process.stderr.write(JSON.stringify({ error: err.name, message: err.message, hint: err.hint, exitCode: err.exitCode }) + '\n');
    else process.stderr.write(escapeForTerminal(`xenroot: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`));
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`xenroot: internal error: ${escapeForTerminal(e?.message ?? String(err))}\n${process.env.XENROOT_DEBUG ? `${e?.stack}\n` : '  hint: set XENROOT_DEBUG=1 for the stack trace, and please report it\n'}`);
  return ExitCode.internal;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  let code: number;
  try {
    await program.parseAsync(argv);
    code = ExitCode.ok;
  } catch (err) {
    code = report(err, argv.includes('--json'));
  }
  // Whatever a command left registered (it should have undone it) goes before the process ends.
  await runCleanups();
  return interrupted() ? ExitCode.interrupted : code;
}

// Run when executed (bin/xenroot.js imports this module).
installSignalPolicy((code) => process.exit(code));
const code = await main();
process.exitCode = code;
