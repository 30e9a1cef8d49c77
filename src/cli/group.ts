/** `xenroot group add|set|list|show|remove`: groups (profiles) whose defaults their member clients and guests take. */
import type { Command } from 'commander';
import { collectFiles, table, type CliContext } from './context.js';

interface GroupFlags {
  image?: string;
  append?: string;
  root?: string;
  connect?: string;
  bridge?: string;
  names?: string;
  description?: string;
  file?: string[];
}

function fieldOptions(cmd: Command, empty: string): Command {
  return cmd
    .option('--image <image>', `image its members boot${empty}`)
    .option('--append <args>', `extra kernel arguments of its members${empty}`)
    .option('--root <server:/path>', `NFS root override of its clients${empty}`)
    .option('--connect <uri>', `hypervisor URI of its guests${empty}`)
    .option('--bridge <br>', `bridge of its guests' NICs${empty}`)
    .option('--names <pattern>', `names of new members, e.g. lab-{nn} (lab-01, lab-02, ...)${empty}`)
    .option('--description <text>', `what the group is for${empty}`)
    .option('--file <dest=source>', `a file every member gets: DEST on the node gets the content of SOURCE (repeatable; a member's own file of the same path wins)${empty ? '; DEST= removes it' : ''}`, collectFiles);
}

export function register(program: Command, ctx: CliContext): void {
  const group = program.command('group').description('manage groups: defaults (image, kernel arguments, ...) their member clients and guests take');

  fieldOptions(group.command('add <name>').description('add a group'), '').action(async (name: string, o: GroupFlags) => {
    const { addGroup } = await import('../ops/groups.js');
    const { file, ...rest } = o;
    const r = await addGroup(await ctx.inventoryPath(), name, { ...rest, ...(file ? { files: file } : {}) });
    ctx.print(r, () => `added group ${name}`);
  });

  fieldOptions(group.command('set <name>').description('change a group (an empty value removes it); its members follow at the next sync'), ' ("" to remove)').action(async (name: string, o: GroupFlags) => {
    const { setGroup } = await import('../ops/groups.js');
    const { file, ...rest } = o;
    const r = await setGroup(await ctx.inventoryPath(), name, { ...rest, ...(file ? { files: file } : {}) });
    ctx.print(r, () => (r.changed ? `changed group ${name}; run \`xenroot sync\` to write its members' files` : `group ${name} unchanged`));
  });

  group
    .command('list')
    .description('list groups with their member counts')
    .action(async () => {
      const { listGroups } = await import('../ops/groups.js');
      const groups = await listGroups(await ctx.inventoryPath());
      ctx.print(groups, () =>
        table([
          ['NAME', 'CLIENTS', 'GUESTS', 'IMAGE', 'NAMES', 'APPEND'],
          ...groups.map((g) => [g.name, String(g.clients.length), String(g.guests.length), g.group.image ?? '-', g.group.names ?? '-', g.group.append ?? '']),
        ]),
      );
    });

  group
    .command('show <name>')
    .description('show a group and its members')
    .action(async (name: string) => {
      const { showGroup } = await import('../ops/groups.js');
      const r = await showGroup(await ctx.inventoryPath(), name);
      ctx.print(r, () =>
        [
          `group ${name}`,
          ...Object.entries(r.group).map(([k, v]) => `  ${k}: ${String(v)}`),
          `  clients (${r.clients.length}): ${r.clients.slice(0, 20).join(', ')}${r.clients.length > 20 ? ', ...' : ''}`,
          `  guests (${r.guests.length}): ${r.guests.slice(0, 20).join(', ')}${r.guests.length > 20 ? ', ...' : ''}`,
        ].join('\n'),
      );
    });

  group
    .command('remove <name>')
    .description('remove a group that no client or guest names')
    .action(async (name: string) => {
      const { removeGroup } = await import('../ops/groups.js');
      const r = await removeGroup(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed group ${name}`);
    });
}
