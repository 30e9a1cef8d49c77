/** `xenroot doctor [--fix [--yes]]`: one line per part a boot needs, PASS / WARN / FAIL with the fix. */
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, flag, integer, optionValues, path } from './options.js';

const DOCTOR = {
  fix: flag('--fix', 'say which Debian packages the site needs and lacks, and what would install them; with --yes, install them (apt-get) and nothing else'),
  yes: flag('--yes', 'with --fix: consent to apt-get install of the packages named'),
  root: path('--root <dir>', 'read every file under DIR instead of / (as `sync --root DIR` wrote them)'),
  nfsPort: integer('--nfs-port <port>', 'the NFS server\'s TCP port (default 2049)', 1, 65535),
  minFreeGib: integer('--min-free-gib <n>', 'FAIL below N GiB free where revisions go, WARN below 10 N (default 1)', 0, 1_000_000),
};

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('doctor').description('check that this server can boot the site: DHCP, TFTP, EFI loaders, boot service, NFS and exports, free space, bridge, hosts (changes nothing without --fix --yes)'), DOCTOR).action(async (parsed: Record<string, unknown>) => {
    const { fix, yes, minFreeGib, ...o } = optionValues(DOCTOR, parsed);
    const { TestFailedError, UsageError } = await import('../sys/errors.js');
    if (yes && !fix) throw new UsageError('--yes is consent for --fix: give --fix --yes, or neither');
    const { doctor } = await import('../ops/doctor.js');
    const r = await doctor(await ctx.inventoryPath(), { ...o, ...(minFreeGib !== undefined ? { minFreeBytes: minFreeGib * 2 ** 30 } : {}), install: !!(fix && yes),
      beforeInstall: (pkgs) => process.stderr.write(`xenroot doctor: installing the Debian packages the site needs: apt-get install ${pkgs.join(' ')}\n`),
    });
    ctx.print(r, () => {
      const width = Math.max(...r.findings.map((f) => f.check.length));
      const lines = r.findings.map((f) => `${f.status.padEnd(4)}  ${f.check.padEnd(width)}  ${f.detail}${f.fix ? `\n      fix: ${f.fix}` : ''}`);
      if (r.installed.length) lines.push(`installed: ${r.installed.join(' ')}`);
      else if (r.missingPackages.length)
        lines.push(fix ? `would install (nothing done without --yes): apt-get install ${r.missingPackages.join(' ')}` : `missing Debian packages the site needs: ${r.missingPackages.join(' ')} (xenroot doctor --fix --yes installs them)`);
      else if (fix) lines.push('nothing to install: every package the site needs is installed');
      return lines.join('\n');
    });
    const failed = r.findings.filter((f) => f.status === 'FAIL');
    if (failed.length) throw new TestFailedError(`doctor: ${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((f) => f.check).join(', ')}`, { hint: 'each FAIL line above says its fix' });
  });
}
