/**
 * Progress for builds that take more than a moment: on a TTY, one status line on stderr redrawn
 * in place with the elapsed time; otherwise plain log lines (one per step).
 */
import { log } from '../sys/log.js';

export interface Progress {
  step(text: string): void;
  done(text: string): void;
  fail(text: string): void;
}

export function createProgress(title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const t0 = Date.now();
  const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
  if (!stream.isTTY) {
    return {
      step: (text) => log().info(`${title}: ${text}`),
      done: (text) => log().info(`${title}: ${text} (${secs()} s)`),
      fail: (text) => log().error(`${title}: ${text} (${secs()} s)`),
    };
  }
  const frames = ['|', '/', '-', '\\'];
  let current = 'starting';
  let frame = 0;
  const draw = () => {
    const line = `${frames[frame++ % frames.length]} ${title}: ${current} [${secs()} s]`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 80) - 1)}`);
  };
  // Only start drawing after a moment, so that fast builds print just their result.
  let timer: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    draw();
    timer = setInterval(draw, 200);
    timer.unref();
  }, 300);
  delay.unref();
  const stop = (mark: string, text: string) => {
    clearTimeout(delay);
    if (timer) clearInterval(timer);
    stream.write(`\r\x1b[2K${mark} ${title}: ${text} (${secs()} s)\n`);
  };
  return {
    step: (text) => {
      current = text;
    },
    done: (text) => stop('✓', text),
    fail: (text) => stop('✗', text),
  };
}
