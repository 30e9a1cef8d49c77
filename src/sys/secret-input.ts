/**
 * Secrets the admin hands to a command without putting them on a command line (where `ps` and
 * shell history show them): from a file, from standard input, or typed at a prompt on the
 * terminal with echo off. Only the first line counts; its line end is dropped.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

const firstLine = (text: string): string => text.split(/\r?\n/, 1)[0] ?? '';

/**
 * The secret in the file at `path` (its first line) and, when the file is readable by group or
 * others (expected: 0600), a warning naming its mode. The file is opened without following a
 * symlink and must be a regular file. UsageError naming the path otherwise, or when it is empty.
 */
export function readSecretFile(path: string, flag: string): { secret: string; warning?: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new UsageError(`${flag} ${path}: cannot be opened (${(err as NodeJS.ErrnoException).code ?? String(err)}); it must be a regular file, not a symlink`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`${flag} ${path}: is not a regular file`);
    const secret = firstLine(readFileSync(fd, 'utf8'));
    if (!secret) throw new UsageError(`${flag} ${path}: its first line is empty`);
    const mode = st.mode & 0o777;
    return mode & 0o077 ? { secret, warning: `${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): keep secrets in a 0600 file` } : { secret };
  } finally {
    closeSync(fd);
  }
}

/** The secret on standard input (its first line). UsageError when stdin is empty. */
export async function readSecretStdin(flag: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const secret = firstLine(Buffer.concat(chunks).toString('utf8'));
  if (!secret) throw new UsageError(`${flag}: standard input held no secret (its first line is empty)`);
  return secret;
}

/**
 * Asks for a secret on the terminal (echo off), twice, and returns it. UsageError when standard
 * input is not a terminal, or when the two entries differ or are empty.
 */
export async function promptSecret(question: string, flag: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new UsageError(`${flag}: standard input is not a terminal`, { hint: 'use --root-password-file FILE or --root-password-stdin' });
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      process.stderr.write(q);
      let text = '';
      stdin.setRawMode(true);
      stdin.resume();
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n' || ch === '\u0004') {
            stdin.off('data', onData);
            stdin.setRawMode(false);
            stdin.pause();
            process.stderr.write('\n');
            resolve(text);
            return;
          }
          if (ch === '\u0003') {
            stdin.setRawMode(false);
            process.kill(process.pid, 'SIGINT');
            return;
          }
          if (ch === '\u007f') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  const a = await ask(question);
  const b = await ask('again: ');
  if (!a) throw new UsageError(`${flag}: the password is empty`);
  if (a !== b) throw new UsageError(`${flag}: the two entries differ`);
  return a;
}
