// Options declared once (cli/options.ts): the table gives commander its flags and the ops call its
// values; one kind of bad value gets one exit code whichever command it is given to.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addOptions, flag, opt, optionValues, path } from '../../src/cli/options.js';
import { xenroot } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'xenroot-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('option tables', () => {
  const table = {
    builder: opt({ flags: '--initrd-builder <b>', help: 'h' }),
    syncRoot: path('--sync-root <dir>', 'h'),
    sync: flag('--no-sync', 'h'),
    dryRun: flag('-n, --dry-run', 'h'),
    keep: opt({ flags: '--keep <k>', help: 'h', parse: (v) => Number(v) }),
  };
  const parse = (argv: string[]) => {
    const cmd = addOptions(new Command('x').exitOverride(), table);
    cmd.parse(argv, { from: 'user' });
    return optionValues(table, cmd.opts());
  };

  it('gives values under the table\'s keys, absolute paths, parsed numbers, and leaves out what was not given', () => {
    expect(parse(['--initrd-builder', 'dracut', '--sync-root', 'rel/dir', '--keep', '3', '-n'])).toEqual({ builder: 'dracut', syncRoot: resolve('rel/dir'), sync: true, dryRun: true, keep: 3 });
    expect(parse(['--no-sync'])).toEqual({ sync: false });
  });
});

describe('one exit code for one kind of bad value', () => {
  it('image publish --initrd-builder and image bootstrap --builder refuse a builder outside the list alike: exit 3, one line naming it', async () => {
    mkdirSync(join(dir, 'img'));
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, ['site:', '  nfsServer: 10.0.2.2', 'images:', `  t: { root: ${join(dir, 'img')}, kver: 6.1.0-28-amd64 }`, 'guests:', 'clients:', ''].join('\n'));
    const env = { XENROOT_STATE_DIR: join(dir, 'state') };
    const publish = await xenroot(['--inventory', inv, 'image', 'publish', 't', '--initrd-builder', 'nope', '--no-sync'], { env });
    const bootstrap = await xenroot(['--inventory', inv, 'image', 'bootstrap', 'b', '--builder', 'nope'], { env });
    const add = await xenroot(['--inventory', inv, 'image', 'add', 'a', '--root', join(dir, 'img'), '--initrd-builder', 'nope'], { env });
    for (const r of [publish, bootstrap, add]) {
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/"nope" is not valid: must be builtin, dracut, initramfs-tools, mkinitrd/);
      expect(r.stderr.trim().split('\n')[0]).toMatch(/^xenroot: --(initrd-)?builder "nope"/);
    }
  });

  it('a target outside the list is refused by publish with the same exit code', async () => {
    const inv = join(dir, 'inventory.yaml');
    const r = await xenroot(['--inventory', inv, 'image', 'publish', 't', '--target', 'arm', '--no-sync'], { env: { XENROOT_STATE_DIR: join(dir, 'state') } });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/--target "arm" is not valid: must be xen, qemu, pxe/);
  });
});
