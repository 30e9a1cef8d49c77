/** `xenroot client add|list|show|set|remove`: physical PXE clients. */
import type { Command } from 'commander';
import { collectFiles, table, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  const client = program.command('client').description('manage physical PXE clients (files are written by `xenroot sync`)');

  client
    .command('add <mac>')
    .description('add a client by the MAC it boots with')
    .option('--name <name>', 'client name (default: the MAC with dashes)')
    .option('--image <image>', 'the image it boots (default: the only image)')
    .option('--append <args>', 'extra kernel arguments for this client')
    .option('--root <server:/path>', 'NFS root overriding the image\'s export')
    .option('--hostname <name>', 'host name (default: the client\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address (its DHCP reservation; set in the initrd when the prefix is known)')
    .option('--gateway <ipv4>', 'default gateway with --address')
    .option('--file <dest=source>', 'per-node file: DEST on the client gets the content of SOURCE (repeatable)', collectFiles)
    .action(async (mac: string, o: { name?: string; image?: string; append?: string; root?: string; hostname?: string; address?: string; gateway?: string; file?: string[] }) => {
      const { addClient } = await import('../ops/clients.js');
      const { file, ...rest } = o;
      const r = await addClient(await ctx.inventoryPath(), { mac, ...rest, ...(file ? { files: file } : {}) });
      ctx.print(r, () => `added client ${r.name} (MAC ${r.client.mac}, image ${r.client.image}); run \`xenroot sync\` to write its boot files`);
    });

  client
    .command('list')
    .description('list clients')
    .action(async () => {
      const { listClients } = await import('../ops/clients.js');
      const clients = await listClients(await ctx.inventoryPath());
      ctx.print(clients, () =>
        table([['NAME', 'MAC', 'IMAGE', 'ROOT', 'APPEND'], ...Object.entries(clients).map(([n, c]) => [n, c.mac, c.image, c.root ?? '-', c.append ?? ''])]),
      );
    });

  client
    .command('show <name>')
    .description('show one client')
    .action(async (name: string) => {
      const { getClient } = await import('../ops/clients.js');
      const r = await getClient(await ctx.inventoryPath(), name);
      ctx.print({ name, ...r.client }, () => [`name: ${name}`, ...Object.entries(r.client).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)].join('\n'));
    });

  client
    .command('set <name>')
    .description('change a client (an empty --append or --root removes it)')
    .option('--mac <mac>', 'new MAC')
    .option('--image <image>', 'the image it boots')
    .option('--append <args>', 'extra kernel arguments ("" to remove)')
    .option('--root <server:/path>', 'NFS root override ("" to remove)')
    .option('--hostname <name>', 'host name ("" for the client\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address ("" to remove)')
    .option('--gateway <ipv4>', 'default gateway ("" to remove)')
    .option('--file <dest=source>', 'per-node file DEST from SOURCE; DEST= removes it (repeatable)', collectFiles)
    .action(async (name: string, o: { mac?: string; image?: string; append?: string; root?: string; hostname?: string; address?: string; gateway?: string; file?: string[] }) => {
      const { setClient } = await import('../ops/clients.js');
      const { file, ...rest } = o;
      const r = await setClient(await ctx.inventoryPath(), name, { ...rest, ...(file ? { files: file } : {}) });
      ctx.print(r, () => (r.changed ? `changed client ${name}; run \`xenroot sync\` to write its boot files` : `client ${name} unchanged`));
    });

  client
    .command('remove <name>')
    .description('remove a client from the inventory (its files go at the next `xenroot sync`)')
    .action(async (name: string) => {
      const { removeClient } = await import('../ops/clients.js');
      const r = await removeClient(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed client ${name}; run \`xenroot sync\` to delete its boot files`);
    });
}
