import type { Command } from 'commander';
import { INITRD_BUILDERS } from '../inventory/constants.js';
import { table, type CliContext } from './context.js';

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
