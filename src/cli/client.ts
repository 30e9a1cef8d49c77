/**
 * `xenroot client add|list|show|set|remove|import|discover`: physical PXE clients. A client is
 * named by its name or its MAC in any notation; set and remove take several (names, MACs, ranges
 * such as lab-[01-40], comma lists).
 */
import type { Command } from 'commander';
import { IMPORT_FORMATS } from '../inventory/constants.js';
import { explained, table, type CliContext } from './context.js';
import { addOptions, choice, flag, identityOptions, opt, optionValues, path } from './options.js';

/** The values of a client that `add` and `set` share; each checked by the inventory field it is stored in (exit 3). */
function clientFields(editing: boolean) {
  const empty = (what: string) => (editing ? ` ("" ${what})` : '');
  return {
    image: opt({ flags: '--image <image>', help: editing ? 'the image it boots ("" to take the group\'s)' : 'the image it boots (default: its group\'s, else the only image)' }),
    group: opt({ flags: '--group <group>', help: `the group whose defaults it takes${empty('to leave it')}` }),
    append: opt({ flags: '--append <args>', help: editing ? 'extra kernel arguments ("" to remove)' : 'extra kernel arguments for this client' }),
    root: opt({ flags: '--root <server:/path>', help: editing ? 'NFS root override ("" to remove)' : 'NFS root overriding the image\'s export' }),
    ...identityOptions('client', editing),
  };
}

const ADD = { name: opt({ flags: '--name <name>', help: 'client name (default: the MAC with dashes)' }), ...clientFields(false) };
const SET = { mac: opt({ flags: '--mac <mac>', help: 'new MAC (one client only)' }), ...clientFields(true) };

const IMPORT = {
  format: choice('--format <format>', `${IMPORT_FORMATS.join(', ')} (default: detected)`, IMPORT_FORMATS),
  group: opt({ flags: '--group <group>', help: 'group for rows that name none' }),
  image: opt({ flags: '--image <image>', help: 'image for new clients that get none from their row or group' }),
  dryRun: flag('--dry-run', 'check and report, write nothing'),
};

const DISCOVER = {
  leases: path('--leases <file>', 'DHCP lease file, dnsmasq, ISC or Kea memfile CSV (default: the site\'s server\'s usual one)', 'repeatable'),
  logs: path('--log <file>', 'DHCP/TFTP log (dnsmasq log-facility with log-dhcp, syslog): when they were seen and what they fetched', 'repeatable'),
  since: opt({ flags: '--since <when>', help: 'only machines seen since: an age (30m, 2h, 1d) or a date (2026-11-29T08:00)' }),
  group: opt({ flags: '--group <group>', help: 'the group to enrol them in (its name pattern names them)' }),
  assign: flag('--assign', 'enrol them under the next free names of --group'),
};

export function register(program: Command, ctx: CliContext): void {
  const client = program.command('client').description('manage physical PXE clients (files are written by `xenroot sync`)');

  addOptions(client.command('add <mac>').description('add a client by the MAC it boots with'), ADD)
    .action(async (mac: string, parsed: Record<string, unknown>) => {
      const { addClient } = await import('../ops/clients.js');
      const r = await addClient(await ctx.inventoryPath(), { mac, ...optionValues(ADD, parsed) });
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

  addOptions(client.command('set <clients...>').description('change clients given by name, MAC or range (lab-[01-40]); an empty value removes it'), SET)
    .action(async (refs: string[], parsed: Record<string, unknown>) => {
      const { setClients } = await import('../ops/clients.js');
      const r = await setClients(await ctx.inventoryPath(), refs, optionValues(SET, parsed));
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

  addOptions(
    client
      .command('import <file>')
      .description('add or update many clients from a CSV (header: mac,name,group,address[,image,append]), dnsmasq dhcp-host lines, ISC host blocks or Kea reservations (JSON); a bad line refuses the whole file'),
    IMPORT,
  ).action(async (file: string, parsed: Record<string, unknown>) => {
      const { importClients } = await import('../ops/clients.js');
      const r = await importClients(await ctx.inventoryPath(), file, optionValues(IMPORT, parsed));
      ctx.print(r, () => {
        const shown = r.lines.filter((l) => l.outcome !== 'unchanged');
        const lines = shown.slice(0, 50).map((l) => `  ${file}:${l.line}: ${l.outcome} ${l.name} (${l.mac})${l.changed ? `: ${l.changed.join(', ')}` : ''}`);
        if (shown.length > 50) lines.push(`  ... and ${shown.length - 50} more (--json lists every line)`);
        const c = r.counts;
        return [`${r.dryRun ? 'dry run: would have ' : ''}${c.added} added, ${c.updated} updated, ${c.unchanged} unchanged${c.ignored ? `, ${c.ignored} ignored` : ''} (${r.format}, ${r.lines.length} lines)`, ...lines].join('\n');
      });
    });

  addOptions(
    client
      .command('discover')
      .description('list machines the DHCP server saw that are not in the inventory (lease file, and the DHCP/TFTP log where given); --assign enrols them'),
    DISCOVER,
  ).action(async (parsed: Record<string, unknown>) => {
      const { since, ...o } = optionValues(DISCOVER, parsed);
      const { discoverClients, parseSince } = await import('../ops/discover.js');
      const r = await discoverClients(await ctx.inventoryPath(), { ...o, ...(since !== undefined ? { since: parseSince(since) } : {}) });
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
