import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { addOptions, identityOptions, opt, optionValues, WRITE_ROOT } from './options.js';

/** `create`: each value is checked by the inventory field it is stored in (exit 3). */
const CREATE = {
  ...WRITE_ROOT,
  image: opt({ flags: '--image <image>', help: 'the image the guest boots (default: its group\'s)' }),
  group: opt({ flags: '--group <group>', help: 'the group whose defaults it takes (image, append, connect, bridge)' }),
  memory: opt({ flags: '--memory <MiB>', help: 'memory in MiB (default 512)' }),
  vcpus: opt({ flags: '--vcpus <n>', help: 'virtual CPUs (default 1)' }),
  bridge: opt({ flags: '--bridge <br>', help: 'bridge of the guest\'s NIC (default: the site\'s)' }),
  mac: opt({ flags: '--mac <mac>', help: 'pin this MAC, or "auto" to allocate one now (default: pinned at first start)' }),
  append: opt({ flags: '--append <args>', help: 'extra kernel arguments' }),
  out: opt({ flags: '--out <dir>', help: 'directory for NAME.cfg and NAME.xml (default: guests/ beside the inventory)' }),
  host: opt({ flags: '--host <host>', help: 'the inventory host it runs on (default: placed by xenroot at its first start, when there are hosts)' }),
  ...identityOptions('guest', false),
};

const SET = { ...WRITE_ROOT, ...identityOptions('guest', true) };

export function register(program: Command, ctx: CliContext): void {
  addOptions(program.command('create <name>').description('add a Xen guest to the inventory and write NAME.cfg (xl) and NAME.xml (libvirt)'), CREATE).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const o = optionValues(CREATE, parsed);
      const { createGuest } = await import('../ops/create-guest.js');
      const connect = o.host ? undefined : ctx.options.connect;
      const r = await createGuest(await ctx.inventoryPath(), { name, ...o, ...(connect ? { connect } : {}) });
      ctx.print({ name: r.name, guest: r.guest, files: { cfg: r.files.cfg, xml: r.files.xml } }, () =>
        [
          `created guest ${name} (image ${r.guest.image ?? `of group ${r.guest.group}`}, ${r.guest.memory} MiB, ${r.guest.vcpus} vCPU, MAC ${r.guest.mac ?? 'pinned at first start'}${r.guest.host ? `, host ${r.guest.host}` : ''})`,
          `  ${r.files.cfg}`,
          `  ${r.files.xml}`,
        ].join('\n'),
      );
    },
  );

  addOptions(program.command('set <name>').description('change the identity of a guest (host name, address, per-node files) and rewrite its files'), SET).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const { root, ...flags } = optionValues(SET, parsed);
      const { setGuest } = await import('../ops/set-guest.js');
      const r = await setGuest(await ctx.inventoryPath(), name, flags, root !== undefined ? { root } : {});
      ctx.print(r, () => (r.changed ? `changed guest ${name}${r.written.length ? `; rewrote ${r.written.join(', ')}` : ''}` : `guest ${name} unchanged`));
    },
  );
}
