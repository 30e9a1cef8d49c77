/**
 * From the attacker's side (or a careless hand): exports that give clients more than an image.
 * `image add x --root /` would export the whole server; a root inside xenroot's state exports every
 * node's host keys; the boot or TFTP tree; `insecure` with `no_root_squash` lets any user on an
 * allowed host act as root over NFS. Each is refused at entry with exit 3 naming the path and the
 * rule, also when written by hand and spelt with repeated slashes, `.` segments or a trailing slash.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

let s: SyncSite;
let env: Record<string, string>;
let state: string;

beforeAll(async () => {
  s = await makeSite();
  state = join(s.dir, 'state');
  await mkdir(join(state, 'host-keys'), { recursive: true });
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: state };
});
afterAll(async () => {
  await s?.cleanup();
});

describe('image add refuses an export that gives away more than an image', () => {
  const cases: [string, () => string, RegExp][] = [
    ['the root directory', () => '/', /root directory/],
    ['the root spelt //./', () => '//./', /root directory/],
    ['/etc', () => '/etc', /system directory \/etc/],
    ['a directory inside /usr', () => '/usr/share/', /system directory \/usr/],
    ['/var itself', () => '/var', /system directory \/var/],
    ['xenroot\'s state directory', () => state, /holds xenroot's state directory/],
    ['the host keys inside the state directory', () => join(state, 'host-keys'), /inside xenroot's state/],
    ['a directory holding the boot directory', () => s.dir, /holds xenroot's state directory|holds xenroot's boot directory/],
    ['the boot directory', () => `${s.bootDir}//terminal/.`, /inside xenroot's boot directory/],
  ];
  for (const [what, root, why] of cases)
    it(`refuses ${what} (exit 3, path and rule named, inventory unchanged)`, async () => {
      const before = await readFile(s.inventory, 'utf8');
      const r = await xenroot(['image', 'add', 'evil', '--root', root(), '--kver', '6.1.0-99-amd64'], { env });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(why);
      expect(await readFile(s.inventory, 'utf8')).toBe(before);
    });

  it('accepts an image directory of its own below /srv or /var/lib/xenroot', async () => {
    const { exportPathProblem } = await import('../../src/inventory/exports.js');
    const dirs = { state: '/var/lib/xenroot', stateSubdirs: ['host-keys', 'model', 'sync'], bootDir: '/var/lib/xenroot/boot', tftpRoot: '/tftpboot/linux-install' };
    expect(exportPathProblem('/srv/xenroot/terminal', dirs)).toBeUndefined();
    expect(exportPathProblem('/var/lib/xenroot/images/terminal/', dirs)).toBeUndefined();
    expect(exportPathProblem('/var/lib/xenroot', dirs)).toMatch(/holds xenroot's state/);
    expect(exportPathProblem('/var/lib/xenroot//model/.', dirs)).toMatch(/inside xenroot's state/);
    expect(exportPathProblem('/tftpboot', dirs)).toMatch(/holds xenroot's TFTP directory/);
  });

  it("accepts a project's directory inside a home (a clone under /root, as in a fresh machine's run), never a home itself nor its own hidden entries", async () => {
    const { exportPathProblem } = await import('../../src/inventory/exports.js');
    const dirs = { state: '/var/lib/xenroot', stateSubdirs: ['host-keys', 'model', 'sync'], bootDir: '/var/lib/xenroot/boot', tftpRoot: '/tftpboot/linux-install' };
    expect(exportPathProblem('/root/xenroot/.cache/images/real-bookworm', dirs)).toBeUndefined();
    expect(exportPathProblem('/home/ann/images/terminal', dirs)).toBeUndefined();
    expect(exportPathProblem('/root', dirs)).toMatch(/is the system directory \/root/);
    expect(exportPathProblem('/home/ann/', dirs)).toMatch(/is the home directory \/home\/ann:/);
    expect(exportPathProblem('/root//.ssh', dirs)).toMatch(/inside \/root\/\.ssh, a home directory's own/);
    expect(exportPathProblem('/home/ann/.gnupg/x', dirs)).toMatch(/inside \/home\/ann\/\.gnupg,/);
  });
});

describe('hand edits read by the store', () => {
  it('an export: spelt //etc/./ by hand fails every command with exit 3 naming it in its normal form', async () => {
    const good = await readFile(s.inventory, 'utf8');
    await writeFile(s.inventory, good.replace(/images:\n  terminal:\n/, 'images:\n  terminal:\n    export: //etc/./\n'));
    try {
      const r = await xenroot(['image', 'list'], { env });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/images\.terminal\.export.*system directory \/etc/);
    } finally {
      await writeFile(s.inventory, good);
    }
  });

  it('insecure with no_root_squash (site insecure: true and the default options) is refused', async () => {
    const good = await readFile(s.inventory, 'utf8');
    await writeFile(s.inventory, good.replace(/^site:\n/m, 'site:\n  exports:\n    insecure: true\n'));
    try {
      const r = await xenroot(['image', 'list'], { env });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/insecure with no_root_squash/);
    } finally {
      await writeFile(s.inventory, good);
    }
  });

  it('rw with no_root_squash is accepted with a warning naming the image', async () => {
    const good = await readFile(s.inventory, 'utf8');
    await writeFile(s.inventory, good.replace(/images:\n  terminal:\n/, 'images:\n  terminal:\n    exportOptions: rw\n'));
    await mkdir(join(s.dir, 'other'));
    const r = await xenroot(['image', 'add', 'other', '--root', join(s.dir, 'other'), '--kver', '6.1.0-99-amd64'], { env });
    await writeFile(s.inventory, good);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/image terminal is exported rw with no_root_squash/);
  });
});
