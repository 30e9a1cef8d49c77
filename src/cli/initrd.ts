import type { Command } from 'commander';
import { BOOT_TARGETS, INITRD_BUILDERS } from '../inventory/constants.js';
import { choiceOption, collect, type CliContext } from './context.js';
import type { InitrdListing, Presence } from '../ops/initrd-ls.js';


export function register(program: Command, ctx: CliContext): void {
  const initrd = program.command('initrd').description('build and inspect initrds that boot an image over NFS');

  initrd
    .command('build <image>')
    .description('build the initrd of an inventory image for a machine kind')
    .requiredOption('--target <target>', `machine kind: ${BOOT_TARGETS.join(', ')}`, choiceOption('--target', BOOT_TARGETS))
    .option('--kver <ver>', 'kernel version (default: the image\'s kver, else the newest in the image)')
    .option('--builder <builder>', `${INITRD_BUILDERS.join(', ')} (default: the image's initrdBuilder, else builtin)`, choiceOption('--builder', INITRD_BUILDERS))
    .option('--nic <driver>', 'pxe: NIC driver module to carry (repeatable or comma-separated; default: common physical NICs + virtio_net)', collect)
    .option('--add-module <module>', 'builtin: another kernel module to carry and load (repeatable or comma-separated)', collect)
    .option('--out <path>', 'output file (default: the image\'s staged boot dir, initrd-KVER-TARGET.img)')
    .action(async (name: string, o: { target: (typeof BOOT_TARGETS)[number]; kver?: string; builder?: (typeof INITRD_BUILDERS)[number]; nic?: string[]; addModule?: string[]; out?: string }) => {
      const { buildImageInitrd } = await import('../ops/build-initrd.js');
      const r = await buildImageInitrd(await ctx.inventoryPath(), name, {
        target: o.target,
        ...(o.kver ? { kver: o.kver } : {}),
        ...(o.builder ? { builder: o.builder } : {}),
        ...(o.nic ? { nics: o.nic } : {}),
        ...(o.addModule ? { extraModules: o.addModule } : {}),
        ...(o.out ? { out: o.out } : {}),
        progress: !ctx.json && !ctx.options.quiet,
      });
      ctx.print(r, () =>
        (r.kernel ? `staged ${r.kernel}\n` : '') +
        `built ${r.path}: ${r.builder} initrd for ${r.target}, kernel ${r.kver}, ${(r.size / 1e6).toFixed(2)} MB in ${(r.ms / 1000).toFixed(1)} s, ` +
        `xennet ${r.xennet ? 'yes' : 'no'}, nfs ${r.nfs ? 'yes' : 'no'}\nsha256 ${r.sha256}`,
      );
    });

  initrd
    .command('ls <path>')
    .description('list an initrd (newc cpio: plain, gzip, xz, zstd, dracut\'s early+main) and say whether xennet and NFS are in it')
    .option('--all', 'list every entry, not just the summary')
    .action(async (path: string, o: { all?: boolean }) => {
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
