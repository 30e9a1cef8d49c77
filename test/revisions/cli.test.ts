/**
 * Revisions through the CLI as an admin runs it, without booting anything: publish (and its dry
 * run), show, verify, the PASS gate of rollout (refused, exit 9, nothing changed), the usual
 * one-line errors and exit codes, and prune. The image is a small directory with a stand-in
 * kernel file: nothing here builds an initrd (no node needs one before a rollout).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { expectXenroot } from '../support/cli.js';
import { snapshot } from '../sync/fixture.js';

const KVER = '6.1.0-99-amd64';
let dir: string;
let env: Record<string, string>;

const x = (args: string[], code = 0) => expectXenroot(args, env, code);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenroot-revcli-'));
  const img = join(dir, 'img');
  await mkdir(join(img, 'boot'), { recursive: true });
  await mkdir(join(img, 'etc'));
  await writeFile(join(img, 'boot', `vmlinuz-${KVER}`), 'not really a kernel\n');
  await writeFile(join(img, 'etc/motd'), 'one\n');
  const inventory = join(dir, 'inventory.yaml');
  await writeFile(
    inventory,
    stringify({
      site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(dir, 'boot'), tftpRoot: join(dir, 'tftpboot'), exports: { file: join(dir, 'etc/exports'), dir: join(dir, 'etc/exports.d') }, dhcp: { file: join(dir, 'etc/dnsmasq.d/xenroot.conf') }, revisions: { dir: join(dir, 'revs'), export: '/export' } },
      images: { terminal: { root: img, kver: KVER } },
      guests: {},
      clients: {},
    }),
  );
  env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('revisions from the command line', () => {
  it('a dry run of publish counts what it would copy and publishes nothing', async () => {
    const r = JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--dry-run'])).stdout);
    expect(r).toMatchObject({ ref: 'terminal@1', dryRun: true, copiedFiles: 2 });
    expect(r.sync.changes.map((c: { path: string }) => c.path)).toContain(join(dir, 'etc/exports'));
    expect(existsSync(join(dir, 'revs/terminal/1'))).toBe(false);
    expect(existsSync(join(dir, 'etc/exports'))).toBe(false);
  });

  it('publish freezes the image as terminal@1, exported at its own path; show and verify read it back', async () => {
    const r = JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--no-reload'])).stdout);
    expect(r).toMatchObject({ ref: 'terminal@1', path: join(dir, 'revs/terminal/1'), export: '/export/terminal/1', files: 5 });
    expect(r.linkedTo).toBeUndefined();
    expect(r.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(join(dir, 'etc/exports'), 'utf8')).toContain('# image terminal@1\n/export/terminal/1 10.0.2.0/24(ro,no_root_squash,no_subtree_check)');
    const human = (await x(['image', 'show', 'terminal'])).stdout;
    expect(human).toMatch(/^ {2}1 +\S+ +0\.0 MiB +0\.0 MiB +never tested +- +-$/m);
    expect(JSON.parse((await x(['--json', 'image', 'verify', 'terminal@1'])).stdout)).toMatchObject({ intact: true, actual: r.manifestSha256 });
  });

  it('a second publish links what did not change to terminal@1', async () => {
    await writeFile(join(dir, 'img/etc/motd'), 'two, longer\n');
    const r = JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--no-reload'])).stdout);
    expect(r).toMatchObject({ ref: 'terminal@2', linkedTo: 1, copiedFiles: 1 });
    expect(await readFile(join(dir, 'revs/terminal/1/etc/motd'), 'utf8')).toBe('one\n');
  });

  it('rollout refuses a revision with no PASS on record (exit 9) and changes no file; other mistakes get one line and their exit code', async () => {
    await x(['client', 'add', '52:54:00:00:00:01', '--name', 'pc1']);
    const before = await snapshot(dir);
    const inv = await readFile(env.XENROOT_INVENTORY!, 'utf8');
    const refused = await x(['rollout', 'terminal@2', '--all', '--no-reload'], 9);
    expect(refused.stderr.trimEnd()).toBe(
      'xenroot: terminal@2 has no PASS on record (never tested): nothing was rolled out\n  hint: test it first: `xenroot test terminal@2`; or roll it out untested with --force (recorded)',
    );
    expect(await readFile(env.XENROOT_INVENTORY!, 'utf8')).toBe(inv);
    expect(await snapshot(dir)).toEqual(before);
    expect((await x(['rollout', 'terminal@2'], 2)).stderr).toContain('say which nodes: --clients A,B, --guests X,Y, --group G or --all');
    expect((await x(['rollout', 'terminal@7', '--all'], 3)).stderr).toContain('image terminal has no revision 7');
    expect((await x(['rollout', 'terminal', '--all'], 2)).stderr).toContain('"terminal" is not IMAGE@REV');
    expect((await x(['rollout', 'terminal@2', '--clients', 'nope'], 3)).stderr).toContain('no client named "nope"');
    expect((await x(['rollback', 'terminal', '--clients', 'pc1'], 3)).stderr).toContain('client pc1: no revision to roll back to');
    const json = await x(['--json', 'rollout', 'terminal@2', '--all'], 9);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'TestFailedError', exitCode: 9 });
    expect(await snapshot(dir)).toEqual(before);
  });

  it('prune removes what no node boots or may roll back to, keeping the newest; its export goes with it', async () => {
    await x(['client', 'remove', 'pc1']);
    const dry = JSON.parse((await x(['--json', 'image', 'prune', 'terminal', '--dry-run'])).stdout);
    expect(dry).toMatchObject({ removed: ['terminal@1'], kept: [{ ref: 'terminal@2', why: 'one of the 1 newest (--keep)' }] });
    expect(existsSync(join(dir, 'revs/terminal/1'))).toBe(true);
    const r = JSON.parse((await x(['--json', 'image', 'prune', 'terminal', '--no-reload'])).stdout);
    expect(r.removed).toEqual(['terminal@1']);
    expect(existsSync(join(dir, 'revs/terminal/1'))).toBe(false);
    expect(await readFile(join(dir, 'revs/terminal/2/etc/motd'), 'utf8')).toBe('two, longer\n');
    expect(await readFile(join(dir, 'etc/exports'), 'utf8')).not.toContain('/export/terminal/1');
    expect((await x(['rollout', 'terminal@1', '--all', '--force'], 3)).stderr).toContain('image terminal has no revision 1 any more (it was pruned)');
    const all = JSON.parse((await x(['--json', 'image', 'show', 'terminal', '--all'])).stdout);
    expect(all.revisions.revisions.map((v: { revision: number; prunedAt?: string }) => [v.revision, !!v.prunedAt])).toEqual([[1, true], [2, false]]);
    // Numbers are never reused.
    expect(JSON.parse((await x(['--json', 'image', 'publish', 'terminal', '--dry-run', '--no-sync'])).stdout).ref).toBe('terminal@3');
  });

  it('two publishes of the same image started at once each get a revision number of their own, both intact', async () => {
    await writeFile(join(dir, 'img/etc/motd'), 'three\n');
    const both = await Promise.all([x(['--json', 'image', 'publish', 'terminal', '--no-reload']), x(['--json', 'image', 'publish', 'terminal', '--no-reload'])]);
    const refs = both.map((r) => JSON.parse(r.stdout).ref as string).sort();
    expect(refs).toEqual(['terminal@3', 'terminal@4']);
    for (const ref of refs) expect(JSON.parse((await x(['--json', 'image', 'verify', ref])).stdout)).toMatchObject({ intact: true });
    expect(await readFile(join(dir, 'revs/terminal/4/etc/motd'), 'utf8')).toBe('three\n');
    // No staging directory is left in the store.
    expect((await readdir(join(dir, 'revs/terminal'))).sort()).toEqual(['2', '3', '4']);
  });
});
