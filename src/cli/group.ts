/** `xenroot group add|set|list|show|remove`: groups (profiles) whose defaults their member clients and guests take. */
import type { Command } from 'commander';
import { table, type CliContext } from './context.js';
import { addOptions, list, opt, optionValues } from './options.js';

/** A group's values, each checked by the inventory field it is stored in (exit 3); `empty` ends the help of `set`. */
function groupFields(empty: string) {
  return {
    image: opt({ flags: '--image <image>', help: `image its members boot${empty}` }),
    append: opt({ flags: '--append <args>', help: `extra kernel arguments of its members${empty}` }),
    root: opt({ flags: '--root <server:/path>', help: `NFS root override of its clients${empty}` }),
    connect: opt({ flags: '--connect <uri>', help: `hypervisor URI of its guests${empty}` }),
    bridge: opt({ flags: '--bridge <br>', help: `bridge of its guests' NICs${empty}` }),
    names: opt({ flags: '--names <pattern>', help: `names of new members, e.g. lab-{nn} (lab-01, lab-02, ...)${empty}` }),
    description: opt({ flags: '--description <text>', help: `what the group is for${empty}` }),
    files: list('--file <dest=source>', `a file every member gets: DEST on the node gets the content of SOURCE (repeatable; a member's own file of the same path wins)${empty ? '; DEST= removes it' : ''}`, 'keep-commas'),
  };
}

const ADD = groupFields('');
const SET = groupFields(' ("" to remove)');

export function register(program: Command, ctx: CliContext): void {
  const group = program.command('group').description('manage groups: defaults (image, kernel arguments, ...) their member clients and guests take');

  addOptions(group.command('add <name>').description('add a group'), ADD).action(async (name: string, parsed: Record<string, unknown>) => {
    const { addGroup } = await import('../ops/groups.js');
    const r = await addGroup(await ctx.inventoryPath(), name, optionValues(ADD, parsed));
    ctx.print(r, () => `added group ${name}`);
  });

  addOptions(group.command('set <name>').description('change a group (an empty value removes it); its members follow at the next sync'), SET).action(async (name: string, parsed: Record<string, unknown>) => {
    const { setGroup } = await import('../ops/groups.js');
    const r = await setGroup(await ctx.inventoryPath(), name, optionValues(SET, parsed));
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
