/**
 * Revisions without booting anything: the model the renderers see (each live revision an image
 * entry IMAGE@REV with its own export), the per-node switch layout of the plan, the copy of a
 * tree hard-linked against the previous revision (never against the editable source) and its
 * manifest, and what a running guest's description says it booted.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveModel, missingRevisions, revisionsInUse, runningImage, type RevisionIndex, type RevisionRecord } from '../../src/inventory/revisions.js';
import { nodeSwitch, planGuestFiles } from '../../src/deploy/plan.js';
import { renderExportLines } from '../../src/render/exports.js';
import { exportPath } from '../../src/inventory/paths.js';
import { snapshotTree, treeManifest } from '../../src/image/snapshot.js';
import { AtomicBatch } from '../../src/sys/atomic.js';
import { inventory } from '../support/model.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'xenroot-revunit-'));
  dirs.push(d);
  return d;
}

function record(revision: number, extra: Partial<RevisionRecord> = {}): RevisionRecord {
  return { revision, publishedAt: '2025-01-01T00:00:00Z', source: {}, path: `/srv/r/terminal/${revision}`, export: `/export/terminal/${revision}`, kver: '6.1.0-28-amd64', files: 1, bytes: 1, addedBytes: 1, manifestSha256: 'x', linkedTo: undefined, staged: {}, tests: [], ...extra };
}

describe('the model with revisions', () => {
  const data = inventory({
    site: { revisions: { dir: '/srv/r', export: '/export' } },
    clients: { pc1: { mac: '52:54:00:00:00:01', image: 'terminal', revision: 2, previousRevision: 1 }, pc2: { mac: '52:54:00:00:00:02', image: 'terminal' } },
    guests: { T: { image: 'terminal', revision: 1 } },
  });
  const index: RevisionIndex = { version: 1, image: 'terminal', store: '/srv/r/terminal', next: 4, revisions: [record(1), record(2), record(3, { prunedAt: '2025-02-01T00:00:00Z' })] };

  it('gives each live revision an entry IMAGE@REV with its own tree and export, and points each node at its revision', () => {
    const m = effectiveModel(data, new Map([['terminal', index]]));
    expect(Object.keys(m.images).sort()).toEqual(['terminal', 'terminal@1', 'terminal@2']);
    expect(m.images['terminal@2']).toMatchObject({ root: '/srv/r/terminal/2', export: '/export/terminal/2', kver: '6.1.0-28-amd64' });
    expect(m.clients.pc1!.image).toBe('terminal@2');
    expect(m.clients.pc2!.image).toBe('terminal');
    expect(m.guests.T!.image).toBe('terminal@1');
    // Each revision is exported at its own path, to site.allow only.
    const lines = renderExportLines({ exports: Object.entries(m.images).map(([n, i]) => ({ image: n, path: exportPath(m.site, n, i) })), allow: m.site.allow, options: 'ro', insecure: false });
    expect(lines).toContain('# image terminal@1\n/export/terminal/1 10.0.2.0/24(ro)');
    expect(lines).toContain('# image terminal@2\n/export/terminal/2 10.0.2.0/24(ro)');
    expect(lines.join('\n')).not.toContain('/export/terminal/3');
  });

  it('names the nodes whose revision or rollback revision does not exist, and lists what is in use', () => {
    expect(missingRevisions(data, new Map([['terminal', { ...index, revisions: [record(2)] }]]))).toEqual(['guest T: terminal@1', 'client pc1: terminal@1']);
    expect(revisionsInUse(data, 'terminal')).toEqual(new Map([[1, ['guest T', 'client pc1 (rollback)']], [2, ['client pc1']]]));
  });

  it('reads the revision a running guest booted from its kernel path', () => {
    expect(runningImage('<kernel>/var/lib/xenroot/boot/terminal@12/vmlinuz-6.1.0-28-amd64</kernel>', 'terminal')).toBe('terminal@12');
    expect(runningImage('"kernel": "/var/lib/xenroot/boot/terminal/vmlinuz-6.1.0-28-amd64"', 'terminal')).toBe('terminal');
    expect(runningImage('<kernel>/boot/other@1/vmlinuz-x</kernel>', 'terminal')).toBeUndefined();
  });
});

describe('the per-node switch', () => {
  it('makes a node\'s files fixed links through one switch link to a content-named set, shared by nodes with the same content', () => {
    const planned = new Set<string>();
    const one = (key: string, content: string) =>
      nodeSwitch({ base: '/t', switchDir: 'nodes', key, entryDir: 'nodes/entries', entryName: '', group: 'tftp', owner: `client:${key}`, entryOwner: 'image:terminal@1', planned, files: [{ name: 'pxelinux', path: `/t/pxelinux.cfg/01-${key}`, content }, { name: 'ipxe', path: `/t/ipxe/${key}.ipxe`, content: `#!ipxe\n${content}` }] });
    const a = one('aa', 'A');
    const b = one('bb', 'A');
    const setOf = (files: ReturnType<typeof one>) => files.find((f) => f.kind === 'link' && f.path.startsWith('/t/nodes/') && !f.path.includes('entries'))!;
    expect(a.filter((f) => f.kind === 'text').map((f) => f.path)).toEqual([expect.stringMatching(/^\/t\/nodes\/entries\/[0-9a-f]{16}\/pxelinux$/), expect.stringMatching(/\/ipxe$/)]);
    expect(b.filter((f) => f.kind === 'text')).toEqual([]); // the set is planned once
    expect(setOf(a)).toMatchObject({ kind: 'link', path: '/t/nodes/aa', target: expect.stringMatching(/^entries\/[0-9a-f]{16}$/) });
    expect((setOf(a) as { target: string }).target).toBe((setOf(b) as { target: string }).target);
    expect(a.find((f) => f.path === '/t/pxelinux.cfg/01-aa')).toMatchObject({ kind: 'link', target: '../nodes/aa/pxelinux' });
    expect(a.find((f) => f.path === '/t/ipxe/aa.ipxe')).toMatchObject({ kind: 'link', target: '../nodes/aa/ipxe' });
    expect((setOf(one('cc', 'C')) as { target: string }).target).not.toBe((setOf(a) as { target: string }).target);
  });

  it('gives a guest on a revision .cfg and .xml that name the revision\'s boot files, through its switch', () => {
    const base = inventory({ site: { bootDir: '/b', revisions: { dir: '/r', export: '/e' } }, guests: { T: { image: 'terminal', revision: 2 } }, images: { terminal: { root: '/i', kver: '6.1.0-28-amd64' } } });
    const data = effectiveModel(base, new Map([['terminal', { version: 1, image: 'terminal', store: '/r/terminal', next: 3, revisions: [record(2)] } as RevisionIndex]]));
    const files = planGuestFiles(data, '/inv/inventory.yaml', ['T']);
    const cfg = files.find((f) => f.kind === 'text' && f.path.endsWith('/T.cfg'));
    expect(cfg).toMatchObject({ path: expect.stringMatching(/^\/inv\/guests\/\.xenroot\/T\.[0-9a-f]{16}\/T\.cfg$/) });
    expect((cfg as { content: string }).content).toContain("kernel = '/b/terminal@2/vmlinuz-6.1.0-28-amd64'");
    expect((cfg as { content: string }).content).toContain('root=nfs4:10.0.2.2:/e/terminal/2 ');
    expect(files.find((f) => f.path === '/inv/guests/T.cfg')).toMatchObject({ kind: 'link', target: '.xenroot/T/T.cfg' });
    expect(files.find((f) => f.path === '/inv/guests/.xenroot/T')).toMatchObject({ kind: 'link', target: expect.stringMatching(/^T\.[0-9a-f]{16}$/) });
  });

  it('an atomic batch publishes a new set directory before the link that names it, and replaces a link in one rename', async () => {
    const d = await tmp();
    mkdirSync(join(d, 'nodes'));
    const b1 = new AtomicBatch();
    b1.put(join(d, 'nodes/entries/one/f'), { text: 'one' }, 0o644);
    b1.put(join(d, 'nodes/aa'), { link: 'entries/one' }, 0o777);
    b1.commit();
    expect(readFileSync(join(d, 'nodes/aa/f'), 'utf8')).toBe('one');
    const ino = lstatSync(join(d, 'nodes/aa')).ino;
    const b2 = new AtomicBatch();
    b2.put(join(d, 'nodes/entries/two/f'), { text: 'two' }, 0o644);
    b2.put(join(d, 'nodes/aa'), { link: 'entries/two' }, 0o777);
    expect(readFileSync(join(d, 'nodes/aa/f'), 'utf8')).toBe('one'); // nothing visible before the commit
    b2.commit();
    expect(readlinkSync(join(d, 'nodes/aa'))).toBe('entries/two');
    expect(readFileSync(join(d, 'nodes/aa/f'), 'utf8')).toBe('two');
    expect(lstatSync(join(d, 'nodes/aa')).ino).not.toBe(ino);
  });
});

describe('a revision\'s copy and manifest', () => {
  it('hard-links unchanged files to the previous revision, never to the source; an in-place edit of the source reaches no revision; the manifest reuses the hashes of linked files', async () => {
    const d = await tmp();
    const src = join(d, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/keep'), 'unchanged\n');
    writeFileSync(join(src, 'etc/change'), 'one\n');
    const r1 = await snapshotTree(src, join(d, '1'));
    expect(r1.copiedFiles).toBe(2);
    const m1 = treeManifest(join(d, '1'));
    expect(statSync(join(d, '1/etc/keep')).ino).not.toBe(statSync(join(src, 'etc/keep')).ino);
    // An in-place edit (same inode) of the source, and a changed file.
    writeFileSync(join(src, 'etc/change'), 'two\n');
    // Same size and the same mtime (as when written within the same clock tick): rsync's quick check
    // links it; the manifest walk catches that by content and copies it, which changes the mtime of
    // its directory (an old one here, as rsync -a gives it): the manifest records the one that holds.
    const old = statSync(join(d, '1/etc/change'));
    utimesSync(join(src, 'etc/change'), old.atime, old.mtime);
    utimesSync(join(src, 'etc'), new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    await snapshotTree(src, join(d, '2'), { linkDest: join(d, '1') });
    const m2 = treeManifest(join(d, '2'), { root: join(d, '1'), text: m1.text }, { root: src, since: 0 });
    expect(statSync(join(d, '2/etc/keep')).ino).toBe(statSync(join(d, '1/etc/keep')).ino);
    expect(statSync(join(d, '2/etc/change')).ino).not.toBe(statSync(join(d, '1/etc/change')).ino);
    expect(readFileSync(join(d, '2/etc/change'), 'utf8')).toBe('two\n');
    expect(readFileSync(join(d, '1/etc/change'), 'utf8')).toBe('one\n');
    writeFileSync(join(src, 'etc/keep'), 'edited in place\n');
    expect(readFileSync(join(d, '2/etc/keep'), 'utf8')).toBe('unchanged\n');
    expect(m2).toMatchObject({ files: m1.files, sha256: treeManifest(join(d, '2')).sha256 });
    // A size change alone is rsync's own business: it copies.
    writeFileSync(join(src, 'etc/change'), 'three\n');
    expect((await snapshotTree(src, join(d, '3'), { linkDest: join(d, '2') })).copiedFiles).toBe(2);
    expect(m2.sha256).not.toBe(m1.sha256);
    // Only the changed file (and the directories) count as added disk.
    expect(m2.addedBytes).toBeLessThan(m1.addedBytes);
    expect(m2.text).toMatch(/^f 644 \d+:\d+ 4 \d+ [0-9a-f]{64} etc\/change$/m);
    expect(existsSync(join(d, '2/etc'))).toBe(true);
  });
});
