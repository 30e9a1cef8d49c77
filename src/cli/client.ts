/**
 * `xenroot client add|list|show|set|remove|import|discover`: physical PXE clients. A client is
 * named by its name or its MAC in any notation; set and remove take several (names, MACs, ranges
 * such as lab-[01-40], comma lists).
 */
import type { Command } from 'commander';
import { UsageError } from '../sys/errors.js';
import { IMPORT_FORMATS, type ImportFormat } from '../inventory/constants.js';
import { collectFiles, explained, table, type CliContext } from './context.js';

export function register(program: Command, ctx: CliContext): void {
  const client = program.command('client').description('manage physical PXE clients (files are written by `xenroot sync`)');

  client
    .command('add <mac>')
    .description('add a client by the MAC it boots with')
    .option('--name <name>', 'client name (default: the MAC with dashes)')
    .option('--image <image>', 'the image it boots (default: its group\'s, else the only image)')
    .option('--group <group>', 'the group whose defaults it takes')
    .option('--append <args>', 'extra kernel arguments for this client')
    .option('--root <server:/path>', 'NFS root overriding the image\'s export')
    .option('--hostname <name>', 'host name (default: the client\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address (its DHCP reservation; set in the initrd when the prefix is known)')
    .option('--gateway <ipv4>', 'default gateway with --address')
    .option('--file <dest=source>', 'per-node file: DEST on the client gets the content of SOURCE (repeatable)', collectFiles)
    .action(async (mac: string, o: { name?: string; image?: string; group?: string; append?: string; root?: string; hostname?: string; address?: string; gateway?: string; file?: string[] }) => {
      const { addClient } = await import('../ops/clients.js');
      const { file, ...rest } = o;
      const r = await addClient(await ctx.inventoryPath(), { mac, ...rest, ...(file ? { files: file } : {}) });
      ctx.print(r, () => `added client ${r.name} (MAC ${r.client.mac}${r.client.image ? `, image ${r.client.image}` : ''}${r.client.group ? `, group ${r.client.group}` : ''}); run \`xenroot sync\` to write its boot files`);
    });

  client
    .command('list')
    .description('list clients (with their group\'s values applied)')
    .action(async () => {
      const { listClients } = await import('../ops/client-info.js');
      const clients = await listClients(await ctx.inventoryPath());
      ctx.print(clients, () =>
        table([['NAME', 'MAC', 'IMAGE', 'GROUP', 'ROOT', 'APPEND'], ...Object.entries(clients).map(([n, c]) => [n, c.mac, c.image, c.group ?? '-', c.root ?? '-', c.append ?? ''])]),
      );
    });

  client
    .command('show <client>')
    .description('show one client (by name or MAC) and where each value comes from (own, group, default)')
    .action(async (ref: string) => {
      const { getClient } = await import('../ops/client-info.js');
      const r = await getClient(await ctx.inventoryPath(), ref);
      ctx.print({ name: r.name, ...r.client, sources: r.sources }, () => explained(`client ${r.name}`, r.client, r.sources));
    });

  client
    .command('set <clients...>')
    .description('change clients given by name, MAC or range (lab-[01-40]); an empty value removes it')
    .option('--mac <mac>', 'new MAC (one client only)')
    .option('--image <image>', 'the image it boots ("" to take the group\'s)')
    .option('--group <group>', 'the group whose defaults it takes ("" to leave it)')
    .option('--append <args>', 'extra kernel arguments ("" to remove)')
    .option('--root <server:/path>', 'NFS root override ("" to remove)')
    .option('--hostname <name>', 'host name ("" for the client\'s name)')
    .option('--address <ipv4[/prefix]>', 'static IPv4 address ("" to remove)')
    .option('--gateway <ipv4>', 'default gateway ("" to remove)')
    .option('--file <dest=source>', 'per-node file DEST from SOURCE; DEST= removes it (repeatable)', collectFiles)
    .action(async (refs: string[], o: { mac?: string; image?: string; group?: string; append?: string; root?: string; hostname?: string; address?: string; gateway?: string; file?: string[] }) => {
      const { setClients } = await import('../ops/clients.js');
      const { file, ...rest } = o;
      const r = await setClients(await ctx.inventoryPath(), refs, { ...rest, ...(file ? { files: file } : {}) });
      const changed = r.filter((c) => c.changed).map((c) => c.name);
      ctx.print(r.length === 1 ? r[0] : r, () =>
        changed.length ? `changed ${changed.length === 1 ? `client ${changed[0]}` : `${changed.length} clients`}; run \`xenroot sync\` to write their boot files` : `${r.length === 1 ? `client ${r[0]!.name}` : `${r.length} clients`} unchanged`,
      );
    });

  client
    .command('remove <clients...>')
    .description('remove clients given by name, MAC or range (their files go at the next `xenroot sync`)')
    .action(async (refs: string[]) => {
      const { removeClients } = await import('../ops/clients.js');
      const r = await removeClients(await ctx.inventoryPath(), refs);
      ctx.print(r.length === 1 ? r[0] : r, () => `removed ${r.length === 1 ? `client ${r[0]!.name}` : `${r.length} clients`}; run \`xenroot sync\` to delete their boot files`);
    });

  client
    .command('import <file>')
    .description('add or update many clients from a CSV (header: mac,name,group,address[,image,append]), dnsmasq dhcp-host lines, ISC host blocks or Kea reservations (JSON); a bad line refuses the whole file')
    .option('--format <format>', `${IMPORT_FORMATS.join(', ')} (default: detected)`)
    .option('--group <group>', 'group for rows that name none')
    .option('--image <image>', 'image for new clients that get none from their row or group')
    .option('--dry-run', 'check and report, write nothing')
    .action(async (file: string, o: { format?: string; group?: string; image?: string; dryRun?: boolean }) => {
      if (o.format !== undefined && !(IMPORT_FORMATS as readonly string[]).includes(o.format)) throw new UsageError(`--format "${o.format}" is not valid: must be one of ${IMPORT_FORMATS.join(', ')}`);
      const { importClients } = await import('../ops/clients.js');
      const r = await importClients(await ctx.inventoryPath(), file, { ...o, format: o.format as ImportFormat | undefined });
      ctx.print(r, () => {
        const shown = r.lines.filter((l) => l.outcome !== 'unchanged');
        const lines = shown.slice(0, 50).map((l) => `  ${file}:${l.line}: ${l.outcome} ${l.name} (${l.mac})${l.changed ? `: ${l.changed.join(', ')}` : ''}`);
        if (shown.length > 50) lines.push(`  ... and ${shown.length - 50} more (--json lists every line)`);
        const c = r.counts;
        return [`${r.dryRun ? 'dry run: would have ' : ''}${c.added} added, ${c.updated} updated, ${c.unchanged} unchanged${c.ignored ? `, ${c.ignored} ignored` : ''} (${r.format}, ${r.lines.length} lines)`, ...lines].join('\n');
      });
    });

  client
    .command('discover')
    .description('list machines the DHCP server saw that are not in the inventory (lease file, and the DHCP/TFTP log where given); --assign enrols them')
    .option('--leases <file>', 'DHCP lease file, dnsmasq, ISC or Kea memfile CSV (default: the site\'s server\'s usual one)', collectFiles)
    .option('--log <file>', 'DHCP/TFTP log (dnsmasq log-facility with log-dhcp, syslog): when they were seen and what they fetched', collectFiles)
    .option('--since <when>', 'only machines seen since: an age (30m, 2h, 1d) or a date (2026-11-29T08:00)')
    .option('--group <group>', 'the group to enrol them in (its name pattern names them)')
    .option('--assign', 'enrol them under the next free names of --group')
    .action(async (o: { leases?: string[]; log?: string[]; since?: string; group?: string; assign?: boolean }) => {
      const { discoverClients, parseSince } = await import('../ops/discover.js');
      const r = await discoverClients(await ctx.inventoryPath(), {
        ...(o.leases ? { leases: o.leases } : {}),
        ...(o.log ? { logs: o.log } : {}),
        ...(o.since !== undefined ? { since: parseSince(o.since) } : {}),
        ...(o.group !== undefined ? { group: o.group } : {}),
        ...(o.assign ? { assign: true } : {}),
      });
      ctx.print(r, () => {
        const when = (t?: number) => (t === undefined ? '-' : new Date(t).toISOString().replace(/\.\d+Z$/, 'Z'));
        const rows = r.found.map((s) => [
          s.mac,
          s.ip ?? '-',
          s.hostname ?? '-',
          when(s.firstSeen),
          when(s.lastSeen),
          when(s.leaseExpires),
          s.askedDefault.pxelinux ? 'pxelinux default' : s.askedDefault.ipxe ? 'iPXE default' : s.fetched.length ? 'own files' : '-',
          s.assigned ?? '',
        ]);
        const head = `${r.found.length} unknown machine${r.found.length === 1 ? '' : 's'} (${r.known} known) in ${r.sources.join(', ')}`;
        if (!rows.length) return head;
        const out = [head, table([['MAC', 'IP', 'HOSTNAME', 'FIRST SEEN', 'LAST SEEN', 'LEASE ENDS', 'BOOTED', r.assigned.length ? 'ENROLLED AS' : ''], ...rows])];
        if (r.assigned.length) out.push(`enrolled ${r.assigned.length} in group ${r.group}; run \`xenroot sync\` to write their boot files`);
        else if (r.found.length) out.push(`enrol them with: xenroot client discover --group GROUP --assign${r.sources.length ? ' (same sources)' : ''}`);
        return out.join('\n');
      });
    });
}
