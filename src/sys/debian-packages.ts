/** Debian packages of this host: which are installed (dpkg-query), and installing (apt-get). */
import { execa } from 'execa';
import { DependencyError } from './errors.js';
import { requireProgram } from './which.js';

/**
 * The names of `pkgs` that dpkg does not report as installed ("install ok installed"), in the
 * order given. Throws a DependencyError when dpkg-query is missing (not a Debian host).
 */
export async function missingPackages(pkgs: readonly string[]): Promise<string[]> {
  if (pkgs.length === 0) return [];
  const dpkg = requireProgram('dpkg-query', 'dpkg', 'to see which Debian packages are installed');
  const r = await execa(dpkg, ['-W', '-f=${Package} ${Status}\\n', ...pkgs], { reject: false });
  const installed = new Set(
    String(r.stdout)
      .split('\n')
      .filter((l) => l.endsWith(' install ok installed'))
      .map((l) => l.split(' ')[0]!.replace(/:.*$/, '')),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/**
 * Installs `pkgs` with `apt-get install -y --no-install-recommends` (output to the terminal's
 * stderr). A DependencyError names the packages and apt-get's exit code when it fails.
 */
export async function installPackages(pkgs: readonly string[]): Promise<void> {
  if (pkgs.length === 0) return;
  const apt = requireProgram('apt-get', 'apt', 'to install Debian packages');
  const r = await execa(apt, ['install', '-y', '--no-install-recommends', ...pkgs], { reject: false, stdin: 'ignore', stdout: 2, stderr: 'inherit', env: { DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.exitCode !== 0) throw new DependencyError(`apt-get install ${pkgs.join(' ')} failed (exit ${r.exitCode ?? r.signal ?? '?'})`, { hint: 'run apt-get update and try again, or install them by hand' });
}
