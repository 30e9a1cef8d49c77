/**
 * Logging: pino to stderr, pretty on a TTY and JSON otherwise. Results go to stdout, never here.
 * The logger is created on first use so that commands which never log (`--version`) do not pay
 * for loading pino.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

let logger: Logger | undefined;
let level = process.env.XENROOT_LOG_LEVEL ?? 'info';

export function setLogLevel(next: string): void {
  level = next;
  if (logger) logger.level = next;
}

/** Whether debug lines are written (without creating the logger: a hot path asks before building a line). */
export function debugEnabled(): boolean {
  return level === 'debug' || level === 'trace';
}

export function log(): Logger {
  if (logger) return logger;
  // pino is CommonJS; require keeps it synchronous and lazy.
  const require = createRequire(import.meta.url);
  const pino = require('pino') as typeof import('pino');
  if (process.stderr.isTTY && !process.env.XENROOT_LOG_JSON) {
    const pretty = require('pino-pretty') as typeof import('pino-pretty');
    logger = pino.default(
      { level, base: undefined },
      pretty.build({ destination: 2, sync: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }),
    );
  } else {
    logger = pino.default({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
  }
  return logger;
}
