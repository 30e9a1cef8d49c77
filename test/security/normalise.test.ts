/**
 * From the attacker's side (or a careless hand): one directory spelt several ways. Every path of
 * the inventory is judged, stored and rendered in its normal form (repeated slashes, empty and `.`
 * segments and a trailing slash removed), so no rule can be passed by spelling a path
 * differently, and a ".." segment, whose meaning depends on links on the way, is refused with a
 * one-line error naming the value.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';
import { ClientSchema, SiteSchema } from '../../src/inventory/schema.js';

let s: SyncSite;
let env: Record<string, string>;

beforeAll(async () => {
  s = await makeSite();
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state') };
});
afterAll(async () => {
  await s?.cleanup();
});

/** The inventory file's text with `edit` applied for the length of `body`, then put back. */
async function withInventory<T>(edit: (text: string) => string, body: () => Promise<T>): Promise<T> {
  const good = await readFile(s.inventory, 'utf8');
  await writeFile(s.inventory, edit(good));
  try {
    return await body();
  } finally {
    await writeFile(s.inventory, good);
  }
}

describe('paths are stored in their normal form', () => {
  it('image add --export /srv//img/./ stores /srv/img in the inventory file', async () => {
    await mkdir(join(s.dir, 'img-a'));
    const r = await xenroot(['image', 'add', 'a', '--root', join(s.dir, 'img-a'), '--export', '/srv//img/./', '--kver', '6.1.0-99-amd64'], { env });
    expect(r.code, r.stderr).toBe(0);
    const doc = parse(await readFile(s.inventory, 'utf8'));
    expect(doc.images.a.export).toBe('/srv/img');
    expect(await xenroot(['image', 'remove', 'a'], { env })).toMatchObject({ code: 0 });
  });

  it('site paths written //etc/./xenroot/ by hand reach every renderer as /etc/xenroot', () => {
    const site = SiteSchema.parse({ nfsServer: '10.0.2.2', tftpRoot: '//tftpboot//linux-install/./', bootDir: '/var/lib//xenroot/boot/', exportRoot: '//etc/./xenroot/' });
    expect([site.tftpRoot, site.bootDir, site.exportRoot]).toEqual(['/tftpboot/linux-install', '/var/lib/xenroot/boot', '/etc/xenroot']);
  });

  it('sync writes the export line of an image root spelt with // and /./ in its normal form', async () => {
    const out = join(s.dir, 'out-export');
    await mkdir(out);
    await withInventory(
      (t) => t.replace(/^(\s+root: )(.*)\/img$/m, '$1$2//img/./'),
      async () => {
        const r = await xenroot(['sync', '--root', out], { env });
        expect(r.code, r.stderr).toBe(0);
      },
    );
    const exports = await readFile(join(out, 'etc/exports'), 'utf8');
    expect(exports).toContain(`${s.dir}/img `);
    expect(exports).not.toMatch(/\/\/|\/\.\//);
  });
});

describe('a directory spelt two ways is one directory to the overlap rules', () => {
  it('an image exported at the TFTP root written /srv/tftp/ while site.tftpRoot is //srv//tftp/. is refused', async () => {
    await withInventory(
      (t) => t.replace(/tftpRoot: .*/, 'tftpRoot: //srv//tftp/.').replace(/images:\n  terminal:\n/, 'images:\n  terminal:\n    export: /srv/tftp/\n'),
      async () => {
        const r = await xenroot(['image', 'list'], { env });
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(/TFTP directory \/srv\/tftp/);
      },
    );
  });

  it('a per-node file placed in //proc/./sys/ is refused as a kernel filesystem', () => {
    const r = ClientSchema.safeParse({ mac: '00:16:3e:00:00:01', image: 'terminal', files: { '//proc/./sys/kernel/core_pattern': '|/tmp/x' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/filesystem the kernel provides/);
  });

  it('one per-node file given as /etc/motd and /etc//motd is refused, not written twice', () => {
    const r = ClientSchema.safeParse({ mac: '00:16:3e:00:00:01', image: 'terminal', files: { '/etc/motd': 'a', '/etc//motd': 'b' } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/is \/etc\/motd, as "\/etc\/motd" is/);
  });

  it('a per-node file at /etc/./issue is kept under /etc/issue', () => {
    const r = ClientSchema.parse({ mac: '00:16:3e:00:00:01', image: 'terminal', files: { '/etc/./issue': 'hello' } });
    expect(Object.keys(r.files ?? {})).toEqual(['/etc/issue']);
  });
});

describe('".." is refused with the value named', () => {
  it('image add --export /srv/a/../etc: exit 3, one line naming the value, inventory unchanged', async () => {
    const before = await readFile(s.inventory, 'utf8');
    await mkdir(join(s.dir, 'img-b'));
    const r = await xenroot(['image', 'add', 'b', '--root', join(s.dir, 'img-b'), '--export', '/srv/a/../etc', '--kver', '6.1.0-99-amd64'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/"\/srv\/a\/\.\.\/etc" has a "\.\." segment/);
    expect(await readFile(s.inventory, 'utf8')).toBe(before);
  });

  it('image add --root DIR/link/../img: exit 3 naming the value, not resolved lexically to DIR/img', async () => {
    const before = await readFile(s.inventory, 'utf8');
    const given = `${s.dir}/elsewhere/../img`;
    const r = await xenroot(['image', 'add', 'c', '--root', given, '--kver', '6.1.0-99-amd64'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`--root ${JSON.stringify(given)} has a ".." segment`);
    expect(await readFile(s.inventory, 'utf8')).toBe(before);
  });

  it('sync --root ../out relative to the working directory is still accepted', async () => {
    await mkdir(join(s.dir, 'rel-out'));
    const r = await xenroot(['sync', '--root', '../rel-out'], { env, cwd: join(s.dir, 'img') });
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(s.dir, 'rel-out/etc/exports'), 'utf8')).toContain(`${s.dir}/img `);
  });

  it('site.tftpRoot: /srv/../etc written by hand fails every command with exit 3 naming the value', async () => {
    await withInventory(
      (t) => t.replace(/tftpRoot: .*/, 'tftpRoot: /srv/../etc'),
      async () => {
        const r = await xenroot(['image', 'list'], { env });
        expect(r.code).toBe(3);
        expect(r.stderr).toMatch(/tftpRoot.*"\/srv\/\.\.\/etc" has a "\.\." segment/);
        expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('  hint:'))).toHaveLength(1);
      },
    );
  });
});
