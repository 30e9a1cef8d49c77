/** `xenroot host add|list|show|remove|trust`: the hypervisor hosts guests are placed on. */
import type { Command } from 'commander';
import { UsageError } from '../sys/errors.js';
import { table, type CliContext } from './context.js';
import { addOptions, flag, opt, optionValues, path } from './options.js';

/** `host add`: each value is checked by the inventory field it is stored in (exit 3). */
const ADD = {
  bootDir: opt({ flags: '--boot-dir <dir>', help: 'directory of xenroot\'s boot-file pool on the host (default /var/lib/xenroot/boot)' }),
  maxGuests: opt({ flags: '--max-guests <n>', help: 'place at most N guests there' }),
};

const TRUST = {
  keyFile: path('--key-file <file>', 'the host\'s public key (ssh_host_*_key.pub) got by a channel you trust; default: what the host shows now'),
  replace: flag('--replace', 'replace a recorded key that differs (the host was reinstalled)'),
};

export function register(program: Command, ctx: CliContext): void {
  const host = program.command('host').description('manage hypervisor hosts: guests are placed on them, their boot files shipped there');

  addOptions(host.command('add <name>').description('add a host: --connect URI (xen+ssh://root@HOST/system, xen+tcp://..., qemu:///system, xl://)'), ADD).action(async (name: string, parsed: Record<string, unknown>) => {
    // --connect is the global option (commander gives it to the program wherever it stands).
    const connect = ctx.options.connect;
    if (!connect) throw new UsageError('host add needs --connect URI (the host\'s libvirt URI, or xl://)');
    const { addHost } = await import('../ops/hosts.js');
    const r = await addHost(await ctx.inventoryPath(), { name, connect, allowUnverifiedHostKey: !!ctx.options.allowUnverifiedHostKey, ...optionValues(ADD, parsed) });
    ctx.print(r, () => `added host ${name} (${r.host.connect}, boot files in ${r.host.bootDir} there)`);
  });

  host
    .command('list')
    .description('list hosts and the guests placed on them')
    .action(async () => {
      const { listHosts } = await import('../ops/hosts.js');
      const rows = await listHosts(await ctx.inventoryPath());
      ctx.print(rows, () =>
        table([['NAME', 'URI', 'BOOT DIR', 'GUESTS', 'MAX'], ...rows.map((r) => [r.name, r.host.connect, r.host.bootDir, String(r.guests.length), r.host.maxGuests === undefined ? '-' : String(r.host.maxGuests)])]),
      );
    });

  host
    .command('show <name>')
    .description('show one host')
    .action(async (name: string) => {
      const { showHost } = await import('../ops/hosts.js');
      const r = await showHost(await ctx.inventoryPath(), name);
      ctx.print(r, () => [`name: ${name}`, ...Object.entries(r.host).map(([k, v]) => `${k}: ${String(v)}`), `guests: ${r.guests.join(', ') || '-'}`].join('\n'));
    });

  host
    .command('remove <name>')
    .description('remove a host (refused while guests are placed on it)')
    .action(async (name: string) => {
      const { removeHost } = await import('../ops/hosts.js');
      const r = await removeHost(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed host ${name}`);
    });

  addOptions(host.command('trust <name>').description('record the ssh host key of an xen+ssh:// host in xenroot\'s known_hosts'), TRUST)
    .action(async (name: string, parsed: Record<string, unknown>) => {
      const { trustHost } = await import('../ops/hosts.js');
      const r = await trustHost(await ctx.inventoryPath(), name, optionValues(TRUST, parsed));
      ctx.print(r, () => [`${r.added.length ? 'recorded' : 'already trusted'}: ${r.known} in ${r.file}`, ...r.fingerprints.map((f) => `  ${f}`)].join('\n'));
    });
}
