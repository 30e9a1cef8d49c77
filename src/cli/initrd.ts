import type { Command } from 'commander';
import { choiceOption, collect, type CliContext } from './context.js';

const TARGETS = ['xen', 'qemu', 'pxe'] as const;
const BUILDERS = ['builtin', 'dracut', 'initramfs-tools', 'mkinitrd'] as const;

export function register(program: Command, ctx: CliContext): void {
  const initrd = program.command('initrd').description('build and inspect initrds that boot an image over NFS');

  initrd
    .command('build <image>')
    .description('build the initrd of an inventory image for a machine kind')
    .requiredOption('--target <target>', `machine kind: ${TARGETS.join(', ')}`, choiceOption('--target', TARGETS))
    .option('--kver <ver>', 'kernel version (default: the image\'s kver, else the newest in the image)')
    .option('--builder <builder>', `${BUILDERS.join(', ')} (default: the image's initrdBuilder, else builtin)`, choiceOption('--builder', BUILDERS))
    .option('--nic <driver>', 'pxe: NIC driver module to carry (repeatable or comma-separated; default: common physical NICs + virtio_net)', collect)
    .option('--add-module <module>', 'builtin: another kernel module to carry and load (repeatable or comma-separated)', collect)
    .option('--out <path>', 'output file (default: the image\'s staged boot dir, initrd-KVER-TARGET.img)')
    .action(async (name: string, o: { target: (typeof TARGETS)[number]; kver?: string; builder?: (typeof BUILDERS)[number]; nic?: string[]; addModule?: string[]; out?: string }) => {
      const { loadInventory } = await import('../inventory/store.js');
      const { bootFiles } = await import('../inventory/paths.js');
      const { InventoryError } = await import('../errors.js');
      const { buildInitrd } = await import('../initrd/build.js');
      const { imageKver } = await import('../initrd/builtin.js');
      const inv = await loadInventory(await ctx.inventoryPath());
      const image = (await import('../inventory/lookup.js')).requireEntry(inv.data, 'image', name);
      const source: { dir: string } | { file: string } = image.root ? { dir: image.root } : { file: image.file! };
      let kver = o.kver ?? image.kver;
      if (!kver && 'dir' in source) kver = await imageKver(source.dir);
      const out = o.out ?? (kver ? bootFiles(inv.data.site, name, { ...image, kver }, o.target).initrd : undefined);
      if (!out) throw new InventoryError(`images.${name}.kver is not set`, { hint: 'pass --kver VER or --out PATH' });
      const r = await buildInitrd({
        source, target: o.target, builder: o.builder ?? image.initrdBuilder ?? 'builtin', out,
        ...(kver ? { kver } : {}), ...(o.nic ? { nics: o.nic } : {}), ...(o.addModule ? { extraModules: o.addModule } : {}), progress: !ctx.json && !ctx.options.quiet,
      });
      // Into the staged boot dir: the kernel goes beside the initrd, as guests and `sync` expect it.
      let kernel: string | undefined;
      if (!o.out && image.root && kver) kernel = await (await import('../deploy/boot-files.js')).stageKernel(inv.data.site, name, { ...image, kver });
      ctx.print({ ...r, kernel }, () =>
        (kernel ? `staged ${kernel}\n` : '') +
        `built ${r.path}: ${r.builder} initrd for ${r.target}, kernel ${r.kver}, ${(r.size / 1e6).toFixed(2)} MB in ${(r.ms / 1000).toFixed(1)} s, ` +
        `xennet ${r.xennet ? 'yes' : 'no'}, nfs ${r.nfs ? 'yes' : 'no'}${r.sha256 ? `\nsha256 ${r.sha256}` : ''}`,
      );
    });

  initrd
    .command('ls <path>')
    .description('list an initrd (newc cpio: plain, gzip, xz, zstd, dracut\'s early+main) and say whether xennet and NFS are in it')
    .option('--all', 'list every entry, not just the summary')
    .action(async (path: string, o: { all?: boolean }) => {
      const { listInitrd, formatListing } = await import('../initrd/ls.js');
      const l = await listInitrd(path);
      ctx.print(o.all ? l : { ...l, members: l.members.length }, () => formatListing(l, { all: !!o.all }));
    });
}
