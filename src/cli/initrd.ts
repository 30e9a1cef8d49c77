import type { Command } from 'commander';
import { BOOT_TARGETS, INITRD_BUILDERS } from '../inventory/constants.js';
import type { CliContext } from './context.js';
import { addOptions, flag, list, modelChoice, opt, optionValues, path } from './options.js';
import type { InitrdListing, Presence } from '../ops/initrd-ls.js';

const BUILD = {
  target: { ...modelChoice('--target <target>', `machine kind: ${BOOT_TARGETS.join(', ')}`, BOOT_TARGETS), required: true },
  kver: opt({ flags: '--kver <ver>', help: 'kernel version (default: the image\'s kver, else the newest in the image)' }),
  builder: modelChoice('--builder <builder>', `${INITRD_BUILDERS.join(', ')} (default: the image's initrdBuilder, else builtin)`, INITRD_BUILDERS),
  nics: list('--nic <driver>', 'pxe: NIC driver module to carry (repeatable or comma-separated; default: common physical NICs + virtio_net)'),
  extraModules: list('--add-module <module>', 'builtin: another kernel module to carry and load (repeatable or comma-separated)'),
  out: path('--out <path>', 'output file (default: the image\'s staged boot dir, initrd-KVER-TARGET.img)'),
};

const LS = { all: flag('--all', 'list every entry, not just the summary') };


export function register(program: Command, ctx: CliContext): void {
  const initrd = program.command('initrd').description('build and inspect initrds that boot an image over NFS');

  addOptions(initrd.command('build <image>').description('build the initrd of an inventory image for a machine kind'), BUILD)
    .action(async (name: string, parsed: Record<string, unknown>) => {
      const { target, ...o } = optionValues(BUILD, parsed);
      const { buildImageInitrd } = await import('../ops/build-initrd.js');
      // commander refuses the command without --target (a mandatory option).
      const r = await buildImageInitrd(await ctx.inventoryPath(), name, { ...o, target: target as (typeof BOOT_TARGETS)[number], progress: !ctx.json && !ctx.options.quiet });
      ctx.print(r, () =>
        (r.kernel ? `staged ${r.kernel}\n` : '') +
        `built ${r.path}: ${r.builder} initrd for ${r.target}, kernel ${r.kver}, ${(r.size / 1e6).toFixed(2)} MB in ${(r.ms / 1000).toFixed(1)} s, ` +
        `xennet ${r.xennet ? 'yes' : 'no'}, nfs ${r.nfs ? 'yes' : 'no'}\nsha256 ${r.sha256}`,
      );
    });

  addOptions(initrd.command('ls <path>').description('list an initrd (newc cpio: plain, gzip, xz, zstd, dracut\'s early+main) and say whether xennet and NFS are in it'), LS)
    .action(async (path: string, parsed: Record<string, unknown>) => {
      const o = optionValues(LS, parsed);
      const { listInitrd } = await import('../ops/initrd-ls.js');
      const l = await listInitrd(path);
      ctx.print(o.all ? l : { ...l, members: l.members.length }, () => formatListing(l, { all: !!o.all }));
    });
}

/** The human summary of `initrd ls`: segments, kernel, whether xennet/NFS/virtio_net are in it, modules. */
export function formatListing(l: InitrdListing, opts: { all?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`${l.path}: ${l.members.length} entries in ${l.segments.map((s) => (s.compression === 'none' ? 'cpio' : `${s.compression} cpio`)).join(' + ')}`);
  if (l.kvers.length) lines.push(`kernel: ${l.kvers.join(', ')}`);
  const how = (p: Presence) => (p.present ? `yes (${p.how})` : 'NO');
  lines.push(`xennet (xen-netfront): ${how(l.xennet)}`);
  lines.push(`nfs: ${how(l.nfs)}${l.nfs.versions.length ? `, versions ${l.nfs.versions.join(', ')}` : ''}`);
  lines.push(`virtio_net: ${how(l.virtioNet)}`);
  lines.push(`modules (${l.modules.length}): ${l.modules.join(' ')}`);
  if (opts.all) {
    for (const m of l.members) lines.push(`${m.type.padEnd(7)} ${String(m.size).padStart(9)} ${m.path}${m.target ? ` -> ${m.target}` : ''}`);
  }
  return lines.join('\n');
}
