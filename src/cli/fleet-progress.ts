/**
 * The live display of a fleet operation on a terminal (stderr): one line per guest, redrawn in
 * place by log-update (sindresorhus; it erases and rewrites the block, wraps to the terminal's
 * width and hides the cursor). listr2 was the other candidate: its task tree and its own
 * concurrency model do not fit a scheduler with a per-host limit, and we only need the redraw.
 * Without a terminal (or with --json) nothing is redrawn: each guest gets one line when it ends.
 */
import type { FleetEvent } from '../ops/fleet.js';

const GLYPH: Record<FleetEvent['phase'], string> = { waiting: '·', running: '…', ok: '✓', skipped: '-', failed: '✗' };

export interface Progress {
  onEvent(e: FleetEvent): void;
  say(line: string): void;
  done(): void;
}

export async function fleetProgress(verb: string, opts: { json: boolean; stream?: NodeJS.WriteStream }): Promise<Progress> {
  const stream = opts.stream ?? process.stderr;
  if (opts.json) return { onEvent: () => undefined, say: () => undefined, done: () => undefined };
  // A terminal of 0 rows (a pty nobody sized) would show nothing: lines then, as without one.
  if (!stream.isTTY || !stream.rows) {
    return {
      onEvent: (e) => {
        if (e.phase === 'ok' || e.phase === 'failed' || e.phase === 'skipped') stream.write(`${verb} ${e.name}${e.host ? ` (${e.host})` : ''}: ${e.phase}${e.detail ? `: ${e.detail}` : ''}\n`);
      },
      say: (l) => stream.write(`${l}\n`),
      done: () => undefined,
    };
  }
  const { createLogUpdate } = await import('log-update');
  const update = createLogUpdate(stream, { showCursor: false });
  const rows = new Map<string, { e: FleetEvent; t0: number }>();
  const notes: string[] = [];
  const t0 = Date.now();
  const draw = (): void => {
    const lines = [...rows.values()].map(({ e, t0: s }) => {
      const secs = e.phase === 'running' ? ` ${((Date.now() - s) / 1000).toFixed(0)} s` : '';
      return `${GLYPH[e.phase]} ${e.name}${e.host ? ` @${e.host}` : ''} ${e.phase}${secs}${e.detail ? `: ${e.detail.slice(0, 100)}` : ''}`;
    });
    update([...notes.slice(-3), ...lines, `${verb}: ${((Date.now() - t0) / 1000).toFixed(0)} s`].join('\n'));
  };
  const timer = setInterval(draw, 500);
  timer.unref();
  return {
    onEvent: (e) => {
      const prev = rows.get(e.name);
      rows.set(e.name, { e, t0: e.phase === 'running' || !prev ? Date.now() : prev.t0 });
      draw();
    },
    say: (l) => {
      notes.push(l);
      draw();
    },
    done: () => {
      clearInterval(timer);
      draw();
      update.done();
    },
  };
}
