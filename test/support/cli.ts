/** Runs the built CLI (dist/) as a user would, capturing stdout, stderr and the exit code. */
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

export const XENROOT = fileURLToPath(new URL('../../bin/xenroot.js', import.meta.url));

export async function xenroot(args: string[], opts: { env?: Record<string, string>; cwd?: string; input?: string } = {}) {
  const r = await execa('node', [XENROOT, ...args], { reject: false, env: { XENROOT_LOG_JSON: '1', ...opts.env }, cwd: opts.cwd, input: opts.input });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/**
 * Runs the CLI with `env` and expects exit `code` (default 0); the failure message carries the
 * command line, stdout and stderr. Returns what xenroot() returns.
 */
export async function expectXenroot(args: string[], env: Record<string, string>, code = 0) {
  const r = await xenroot(args, { env });
  if (r.code !== code) throw new Error(`xenroot ${args.join(' ')} exited ${r.code}, not ${code}\n${r.stdout}\n${r.stderr}`);
  return r;
}
