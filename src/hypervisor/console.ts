/**
 * Guest consoles: `virsh -c URI console NAME` or `xl console NAME` run under a pty (node-pty),
 * since virsh refuses to attach without a terminal.
 *
 * - attachConsole: interactive, raw mode, Ctrl-] detaches (we intercept it ourselves, so it works
 *   the same for virsh and xl). Ends cleanly on detach, guest shutdown and guest crash, and says
 *   which it was.
 * - expectConsole: non-interactive, resolves when the console shows a pattern; rejects with the
 *   last console lines on timeout (ConsoleTimeoutError) or when the guest stops or crashes first
 *   (ConsoleEndedError).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { stripVTControlCharacters } from 'node:util';
import type { IPty } from 'node-pty';
import { DependencyError, TestFailedError, TimeoutError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { isActive, type ConsoleCommand, type DomainState } from './types.js';

const require = createRequire(import.meta.url);

function spawnPty(cmd: ConsoleCommand, cols = 120, rows = 40): IPty {
  let pty: typeof import('node-pty');
  try {
    pty = require('node-pty') as typeof import('node-pty');
  } catch (err) {
    throw new DependencyError(`cannot load node-pty: ${(err as Error).message}`, { hint: 'run scripts/setup.sh (it builds node-pty)', cause: err });
  }
  try {
    return pty.spawn(cmd.file, cmd.args, { name: 'xterm', cols, rows, cwd: process.cwd(), env: { ...process.env, LC_ALL: 'C' } });
  } catch (err) {
    throw new DependencyError(`cannot run ${cmd.file}: ${(err as Error).message}`, {
      hint: cmd.file === 'virsh' ? 'install libvirt-clients' : 'install the Xen tools (xen-utils)',
      cause: err,
    });
  }
}

/**
 * Ends a console program: first its own escape (virsh and xl detach cleanly on Ctrl-]; virsh
 * ignores SIGHUP, which is all pty.kill() sends by default), then SIGTERM, then SIGKILL.
 * Resolves once it exited (or after the SIGKILL grace).
 */
export function endPty(term: IPty, escape: string, exited: Promise<void>): Promise<void> {
  const timers: NodeJS.Timeout[] = [];
  const signal = (sig: string): void => {
    try {
      term.kill(sig);
    } catch {
      // already gone
    }
  };
  try {
    term.write(escape);
  } catch {
    // already gone
  }
  timers.push(setTimeout(() => signal('SIGTERM'), 1_000));
  timers.push(setTimeout(() => signal('SIGKILL'), 2_000));
  const cap = new Promise<void>((r) => timers.push(setTimeout(r, 3_000)));
  return Promise.race([exited, cap]).finally(() => timers.forEach(clearTimeout));
}

/** Removes terminal escape sequences (node's util.stripVTControlCharacters) and carriage returns from console text. Pure. */
export function cleanConsoleText(text: string): string {
  // DECSC/DECRC (ESC 7, ESC 8) first: stripVTControlCharacters would take the text after them along.
  return stripVTControlCharacters(text.replace(/\x1b[78]/g, '')).replace(/\r+\n/g, '\n').replace(/\r/g, '\n');
}

/** The last n non-empty lines of console text. Pure. */
export function lastLines(text: string, n = 20): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n);
}

export class ConsoleTimeoutError extends TimeoutError {
  constructor(
    message: string,
    readonly lastLines: string[],
  ) {
    super(message, { hint: lastLines.length ? `last console lines:\n    ${lastLines.join('\n    ')}` : 'the console printed nothing' });
  }
}

export class ConsoleEndedError extends TestFailedError {
  constructor(
    message: string,
    readonly lastLines: string[],
    readonly state: DomainState | undefined,
  ) {
    super(message, { hint: lastLines.length ? `last console lines:\n    ${lastLines.join('\n    ')}` : 'the console printed nothing' });
  }
}

/** The console showed a failure (ExpectOptions.failPattern) before the pattern it waited for. */
export class ConsoleFailedError extends TestFailedError {
  constructor(
    message: string,
    readonly line: string,
    readonly lastLines: string[],
  ) {
    super(message, { hint: lastLines.length ? `last console lines:\n    ${lastLines.join('\n    ')}` : undefined });
  }
}

export interface ExpectOptions {
  timeoutMs: number;
  /** Append everything the console prints to this file. */
  logFile?: string;
  /** Asks the hypervisor for the domain's state: used to tell a stop/crash from a closed console. */
  stateOf?: () => Promise<DomainState>;
  /** How often to ask stateOf while waiting (default 1 s). */
  pollMs?: number;
  /** Name for messages. */
  name?: string;
  /** Called with each piece of console text (escapes removed) and the ms since attach. */
  onText?: (text: string, ms: number) => void;
  /** Console text that means the boot failed: the wait ends `failGraceMs` later (default 3 s, to keep the lines that follow) with ConsoleFailedError. */
  failPattern?: RegExp;
  failGraceMs?: number;
}

export interface ExpectResult {
  /** The text that matched. */
  match: string;
  /** Milliseconds from attach to the match. */
  ms: number;
  lastLines: string[];
}

const KEEP = 256 * 1024;

/**
 * The domain's state once a console closed: a guest that powered off may still read as running
 * or shutting down for a moment, so ask again for up to `ms` until it is inactive.
 */
async function settledState(stateOf: () => Promise<DomainState>, ms = 5_000): Promise<DomainState | undefined> {
  const end = Date.now() + ms;
  let state: DomainState | undefined;
  for (;;) {
    state = await stateOf().catch((err: unknown) => {
      log().debug({ err }, 'asking the domain state failed');
      return undefined;
    });
    if (Date.now() >= end || (state !== undefined && (!isActive(state) || state === 'crashed'))) return state;
    await new Promise((r) => setTimeout(r, 250));
  }
}

function describeEnd(state: DomainState | undefined): string {
  if (state === 'crashed') return 'the guest crashed';
  if (state === 'shutoff' || state === 'undefined' || state === 'shutdown') return 'the guest stopped';
  return 'the console closed';
}

/** Watches a console until it shows `pattern`. */
export function expectConsole(cmd: ConsoleCommand, pattern: RegExp, opts: ExpectOptions): Promise<ExpectResult> {
  const name = opts.name ?? cmd.args[cmd.args.length - 1] ?? 'guest';
  const started = Date.now();
  const term = spawnPty(cmd);
  let markExited: () => void = () => undefined;
  const exited = new Promise<void>((r) => (markExited = r));
  term.onExit(() => markExited());
  let log_: WriteStream | undefined;
  if (opts.logFile) log_ = createWriteStream(opts.logFile, { flags: 'a' });
  let text = '';
  let settled = false;
  const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));

  return new Promise<ExpectResult>((resolve, reject) => {
    let poll: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => finish(new ConsoleTimeoutError(`the console of ${name} did not show /${pattern.source}/ within ${opts.timeoutMs / 1000} s`, lastLines(text))), opts.timeoutMs);

    function finish(result: ExpectResult | Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (failing) clearTimeout(failing);
      if (poll) clearInterval(poll);
      const done = (): void => (result instanceof Error ? reject(result) : resolve(result));
      void endPty(term, cmd.escape, exited).then(() => {
        if (log_) log_.end(done);
        else done();
      });
    }

    function check(): boolean {
      const m = re.exec(text);
      if (!m) return false;
      finish({ match: m[0], ms: Date.now() - started, lastLines: lastLines(text) });
      return true;
    }

    async function ended(why: string, exitCode: number | undefined): Promise<void> {
      // Let the last bytes arrive, then decide what happened.
      await new Promise((r) => setTimeout(r, 200));
      if (settled || check()) return;
      const state = opts.stateOf ? await settledState(opts.stateOf) : undefined;
      const what = describeEnd(state);
      finish(
        new ConsoleEndedError(
          `${what} (${why}${state ? `, state ${state}` : ''}${exitCode !== undefined ? `, console exit ${exitCode}` : ''}) before the console of ${name} showed /${pattern.source}/`,
          lastLines(text),
          state,
        ),
      );
    }

    let failing: NodeJS.Timeout | undefined;
    const failRe = opts.failPattern ? new RegExp(opts.failPattern.source, opts.failPattern.flags.replace('g', '')) : undefined;
    term.onData((data) => {
      if (settled) return;
      log_?.write(data);
      const clean = cleanConsoleText(data);
      text += clean;
      if (text.length > KEEP) text = text.slice(-KEEP);
      opts.onText?.(clean, Date.now() - started);
      if (check()) return;
      const m = !failing && failRe ? failRe.exec(text) : null;
      if (m) {
        failing = setTimeout(() => finish(new ConsoleFailedError(`the console of ${name} shows a failure: ${m[0].trim()}`, m[0].trim(), lastLines(text))), opts.failGraceMs ?? 3_000);
      }
    });
    term.onExit(({ exitCode }) => {
      if (!settled) void ended('the console program exited', exitCode);
    });
    if (opts.stateOf) {
      const stateOf = opts.stateOf;
      let busy = false;
      poll = setInterval(() => {
        if (busy || settled) return;
        busy = true;
        stateOf()
          .then((s) => {
            if (!isActive(s) || s === 'crashed') void ended(`domain state ${s}`, undefined);
          })
          .catch((err: unknown) => log().debug({ err }, 'state poll failed'))
          .finally(() => (busy = false));
      }, opts.pollMs ?? 1_000);
    }
  });
}

export type AttachOutcome = 'detached' | 'shutdown' | 'crashed' | 'closed';

export interface AttachResult {
  outcome: AttachOutcome;
  state: DomainState | undefined;
  exitCode: number | undefined;
}

export interface AttachOptions {
  stateOf?: () => Promise<DomainState>;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  /** Called once the console program runs (for the "escape is ^]" banner). */
  onAttach?: () => void;
}

/** Interactive attach: raw mode, Ctrl-] detaches. Resolves with how it ended. */
export function attachConsole(cmd: ConsoleCommand, opts: AttachOptions = {}): Promise<AttachResult> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stdout;
  const term = spawnPty(cmd, output.columns || 80, output.rows || 24);
  let markExited: () => void = () => undefined;
  const exited = new Promise<void>((r) => (markExited = r));
  term.onExit(() => markExited());
  const wasRaw = input.isTTY ? input.isRaw : false;
  if (input.isTTY) input.setRawMode(true);
  input.resume();
  opts.onAttach?.();

  return new Promise<AttachResult>((resolve) => {
    let detached = false;
    let done = false;
    // A crashed domain that libvirt preserves keeps its console open: watch the state as well.
    let poll: NodeJS.Timeout | undefined;
    if (opts.stateOf) {
      const stateOf = opts.stateOf;
      let busy = false;
      poll = setInterval(() => {
        if (busy || done || detached) return;
        busy = true;
        stateOf()
          .then((st) => {
            if (!done && !detached && (!isActive(st) || st === 'crashed')) void endPty(term, cmd.escape, exited);
          })
          .catch(() => undefined)
          .finally(() => (busy = false));
      }, 1_000);
    }
    const onInput = (chunk: Buffer | string): void => {
      const s = typeof chunk === 'string' ? chunk : chunk.toString('binary');
      const at = s.indexOf(cmd.escape);
      if (at >= 0) {
        if (at > 0) term.write(s.slice(0, at));
        detached = true;
        void endPty(term, cmd.escape, exited);
        return;
      }
      term.write(s);
    };
    const onResize = (): void => {
      try {
        term.resize(output.columns || 80, output.rows || 24);
      } catch {
        // the pty may be gone
      }
    };
    input.on('data', onInput);
    output.on('resize', onResize);
    term.onData((d) => output.write(d));
    term.onExit(({ exitCode }) => {
      if (done) return;
      done = true;
      if (poll) clearInterval(poll);
      input.off('data', onInput);
      output.off('resize', onResize);
      if (input.isTTY) input.setRawMode(wasRaw);
      input.pause();
      void (async () => {
        if (detached) return resolve({ outcome: 'detached', state: undefined, exitCode });
        const state = opts.stateOf ? await settledState(opts.stateOf) : undefined;
        const outcome: AttachOutcome = state === 'crashed' ? 'crashed' : state && !isActive(state) ? 'shutdown' : state === 'shutdown' ? 'shutdown' : 'closed';
        resolve({ outcome, state, exitCode });
      })();
    });
  });
}
