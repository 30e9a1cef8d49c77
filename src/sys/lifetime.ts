/**
 * Process lifetime: one cleanup registry and one signal policy for everything xenroot starts or
 * mounts (LTSP's `exit_command`/`at_exit` list is the model: one list, undone in reverse order,
 * whatever ends the program).
 *
 *   const nfs = onCleanup('NFS server pid 123', () => stopIt(), { sync: () => killPidNow(123) });
 *   ...
 *   await nfs.run();         // the owner undoes it normally (runs once; later calls share the result)
 *
 * Registering is cheap and happens the moment a resource exists. The owner runs its entry when it
 * is done with the resource (normal path and error path alike); whatever is still registered
 * when a handled signal arrives is undone by the policy, newest first.
 *
 * The policy (installed once, by the CLI entry, which passes the only `exit` there is):
 *  - SIGINT, SIGTERM and SIGHUP (a closed terminal) abort `interruptSignal()` with an
 *    InterruptedError, so that work in progress stops at its next check, and undo every
 *    registered entry in reverse order; then the process ends with exit code 130, always,
 *    whichever signal it was and however far the work had got.
 *  - Further signals while undoing are noted, not obeyed: undoing is bounded (each entry has
 *    CLEANUP_TIMEOUT_MS), and a half-undone state is what the policy exists to prevent.
 *  - On process exit, entries that are still registered (a bug, or an exit during a native call)
 *    get their synchronous variant (`sync`, e.g. SIGKILL by PID), which is all an exit handler
 *    may do.
 * Without the policy installed (a library caller, a test) signals keep their default action and
 * the owners undo their own entries.
 */
import { ExitCode, InterruptedError } from './errors.js';
import { log } from './log.js';

export const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

/** The longest one entry may take to undo when the policy undoes it (ms). */
export const CLEANUP_TIMEOUT_MS = 20_000;
/** After undoing, how long the work gets to end by itself (printing its own message) before exit (ms). */
const EXIT_GRACE_MS = 2_000;

interface Entry {
  label: string;
  fn: () => Promise<void> | void;
  sync: (() => void) | undefined;
  done: Promise<void> | undefined;
}

export interface Cleanup {
  readonly label: string;
  /** Undoes the resource once; every later call returns the same promise. */
  run(): Promise<void>;
  /** Forgets the entry without running it (the owner closed the resource another way). */
  release(): void;
}

const entries: Entry[] = [];
let controller = new AbortController();
let interruptedBy: NodeJS.Signals | undefined;
let exitHook = false;
const exitSweeps: Array<() => void> = [];

function remove(e: Entry): void {
  const i = entries.indexOf(e);
  if (i >= 0) entries.splice(i, 1);
}

function runEntry(e: Entry): Promise<void> {
  e.done ??= (async () => {
    try {
      await e.fn();
    } finally {
      remove(e);
    }
  })();
  return e.done;
}

function onExit(): void {
  for (const e of [...entries].reverse()) {
    if (!e.sync) continue;
    try {
      e.sync();
    } catch {
      // an exit handler cannot do more
    }
  }
  for (const sweep of exitSweeps) {
    try {
      sweep();
    } catch {
      // an exit handler cannot do more
    }
  }
}

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', onExit);
}

/**
 * Registers a last synchronous sweep for process exit, run after the exit undo of every entry
 * still registered: for what must be undone even when its entry already ran (a temp dir that a
 * step still in flight made again after an interrupt removed it). The process's one exit hook
 * runs it; a sweep that throws does not stop the others.
 */
export function atExit(sweep: () => void): void {
  exitSweeps.push(sweep);
  installExitHook();
}

/**
 * Registers the undo of a resource that exists now. `sync` is what an exit handler can still do
 * (kill a PID, delete a namespace with spawnSync) if the process ends before `run()`.
 */
export function onCleanup(label: string, fn: () => Promise<void> | void, opts: { sync?: () => void } = {}): Cleanup {
  const e: Entry = { label, fn, sync: opts.sync, done: undefined };
  entries.push(e);
  installExitHook();
  return { label, run: () => runEntry(e), release: () => remove(e) };
}

/**
 * Runs `fn` with a resource's undo registered, and undoes it on every way out (return, throw,
 * interrupt). The acquire step runs first; its result is passed to `fn`.
 */
export async function withCleanup<R, T>(label: string, acquire: () => Promise<R>, undo: (r: R) => Promise<void> | void, fn: (r: R) => Promise<T>): Promise<T> {
  throwIfInterrupted();
  const r = await acquire();
  const c = onCleanup(label, () => undo(r));
  try {
    return await fn(r);
  } finally {
    await c.run();
  }
}

/** Aborted, with an InterruptedError as its reason, when a handled signal arrives. */
export function interruptSignal(): AbortSignal {
  return controller.signal;
}

/** The signal that interrupted this process, if one did. */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}

/** Throws the InterruptedError when a handled signal has arrived: call it before starting anything new. */
export function throwIfInterrupted(): void {
  if (controller.signal.aborted) throw controller.signal.reason as InterruptedError;
}

/** Labels of what is registered now, oldest first (for messages and tests). */
export function pendingCleanups(): string[] {
  return entries.map((e) => e.label);
}

/**
 * Undoes everything still registered, newest first (and again for whatever was registered
 * meanwhile). Errors are logged, not thrown: the rest must still be undone.
 */
export async function runCleanups(timeoutMs = CLEANUP_TIMEOUT_MS): Promise<void> {
  for (let round = 0; entries.length > 0 && round < 5; round++) {
    for (const e of [...entries].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
      const outcome = await Promise.race([runEntry(e).then(() => 'ok' as const), limit]).catch((err: unknown) => {
        log().warn({ what: e.label, err: err instanceof Error ? err.message : String(err) }, 'undoing failed');
        return 'failed' as const;
      });
      if (timer) clearTimeout(timer);
      if (outcome === 'timeout') {
        log().warn({ what: e.label, ms: timeoutMs }, 'undoing took too long; moving on');
        remove(e);
        e.sync?.();
      }
    }
  }
}

let installed = false;
const takenSignals = new Map<NodeJS.Signals, () => void>();

/**
 * Lets a long-running command answer a handled signal itself instead of the policy (the boot
 * service: SIGTERM drains and stops, SIGHUP reloads). Returns the function that gives it back.
 * Once the policy is undoing (after another signal), the command's handler is no longer called.
 */
export function takeSignal(sig: (typeof HANDLED_SIGNALS)[number], handler: () => void): () => void {
  takenSignals.set(sig, handler);
  return () => {
    if (takenSignals.get(sig) === handler) takenSignals.delete(sig);
  };
}

/**
 * Installs the signal policy described above. `exit` ends the process; only the CLI entry calls
 * this (it is the one place that may end the process).
 */
export function installSignalPolicy(exit: (code: number) => void): void {
  if (installed) return;
  installed = true;
  let unwinding: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    const taken = takenSignals.get(sig);
    if (taken && !unwinding) return taken();
    process.exitCode = ExitCode.interrupted;
    if (unwinding) {
      log().warn({ signal: sig, left: pendingCleanups() }, 'still stopping what was started; please wait');
      return;
    }
    interruptedBy = sig;
    const left = pendingCleanups();
    if (left.length) log().warn({ signal: sig, undoing: left.reverse() }, `interrupted by ${sig}: stopping what was started`);
    controller.abort(new InterruptedError(`interrupted by ${sig}`, { hint: 'everything it had started was stopped and unmounted; run it again' }));
    unwinding = runCleanups().then(() => {
      setTimeout(() => exit(ExitCode.interrupted), EXIT_GRACE_MS).unref();
    });
  };
  for (const sig of HANDLED_SIGNALS) process.on(sig, onSignal);
}
