import type { Command } from 'commander';
import { INITRD_BUILDERS } from '../inventory/constants.js';
import { collect, table, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('manage root filesystem images');

  image
    .command('add <name>')
    .description('add an image: a directory or a loop image file holding a root filesystem')
    .option('--root <dir>', 'the image as a directory (exported over NFS)')
    .option('--file <img>', 'the image as a loop image file (ext4)')
    .option('--kver <ver>', 'kernel version to boot (default: the newest found in the image)')
    .option('--export <path>', 'NFS path clients mount (default: the directory)')
    .option('--nfs-version <v>', 'NFS version for the root: 3 or 4')
    .option('--nfs-options <opts>', 'NFS mount options for the root, comma-separated (e.g. port=2049,vers=4.2)')
    .option('--initrd-builder <builder>', `${INITRD_BUILDERS.join(', ')} (default builtin)`)
    .option('--ready-pattern <regex>', 'console line that shows the image is up (for `xenroot test`)')
    .option('--append <args>', 'extra kernel arguments for every machine of this image')
    .action(async (name: string, o: { root?: string; file?: string; kver?: string; export?: string; nfsVersion?: string; nfsOptions?: string; initrdBuilder?: string; readyPattern?: string; append?: string }) => {
      const { addImage } = await import('../ops/images.js');
      const r = await addImage(await ctx.inventoryPath(), { name, ...o });
      ctx.print(r, () => `added image ${name} (kernel ${r.image.kver}${r.kverDetected ? ', found in the image' : ''})`);
    });

  image
    .command('bootstrap <name>')
    .description('make a real Debian root directory with mmdebstrap, ready for an NFS root, and add it as an image')
    .option('--suite <suite>', 'Debian suite', 'bookworm')
    .option('--packages <list>', 'further packages (comma-separated or repeated)', collect)
    .option('--builder <builder>', `the image's initrd builder: ${INITRD_BUILDERS.join(', ')} (default builtin)`)
    .option('--root-password <pw>', 'let root log in with this password (default: root stays locked)')
    .option('--autologin', 'log root in automatically on the serial consoles (ttyS0, hvc0)')
    .option('--dir <dir>', 'where the image goes (default: the site\'s exportRoot/NAME)')
    .option('--mirror <url>', 'Debian mirror (default: mmdebstrap\'s, from this host\'s apt sources)')
    .action(async (name: string, o: { suite: string; packages?: string[]; builder?: string; rootPassword?: string; autologin?: boolean; dir?: string; mirror?: string }) => {
      const { bootstrapImageCmd } = await import('../ops/bootstrap-image.js');
      const r = await bootstrapImageCmd(await ctx.inventoryPath(), name, {
        suite: o.suite,
        ...(o.packages ? { packages: o.packages } : {}),
        ...(o.builder ? { builder: o.builder as (typeof INITRD_BUILDERS)[number] } : {}),
        ...(o.rootPassword !== undefined ? { rootPassword: o.rootPassword } : {}),
        autologin: !!o.autologin,
        ...(o.dir ? { dir: o.dir } : {}),
        ...(o.mirror ? { mirror: o.mirror } : {}),
        progress: !ctx.json && !ctx.options.quiet,
      });
      ctx.print(r, () =>
        [
          `added image ${name}: Debian ${r.suite} in ${r.dir} (kernel ${r.kver}, ${r.builder} initrd, ${(r.ms / 1000).toFixed(0)} s)`,
          ...r.warnings.map((w) => `warning: ${w}`),
          `next: xenroot test ${name} --serve-nfs`,
        ].join('\n'),
      );
    });

  image
    .command('list')
    .description('list images')
    .action(async () => {
      const { listImages } = await import('../ops/images.js');
      const images = await listImages(await ctx.inventoryPath());
      ctx.print(images, () =>
        table([['NAME', 'KERNEL', 'SOURCE'], ...Object.entries(images).map(([n, i]) => [n, i.kver ?? '-', i.root ?? i.file ?? '-'])]),
      );
    });

  image
    .command('show <name>')
    .description('show one image')
    .action(async (name: string) => {
      const { showImage } = await import('../ops/images.js');
      const img = await showImage(await ctx.inventoryPath(), name);
      ctx.print({ name, ...img }, () => Object.entries(img).map(([k, v]) => `${k}: ${String(v)}`).join('\n'));
    });

  image
    .command('remove <name>')
    .description('remove an image from the inventory (its files are not touched)')
    .action(async (name: string) => {
      const { removeImage } = await import('../ops/images.js');
      const r = await removeImage(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed image ${name}`);
    });
}
