/**
 * The real consumer: nfs-utils' `exportfs -ra` reads the exports file xenroot writes (in a private
 * mount namespace where /etc/exports, /etc/exports.d and /var/lib/nfs are bind-mounted from a
 * temp dir, so nothing on this machine changes; no nfsd is needed to parse), and the table it
 * writes (/var/lib/nfs/etab, what `exportfs -s` prints) holds, for every image path, exactly the
 * allowed clients with the options the inventory meant. Random inventories (fast-check), plus the
 * cases of issue 13: no IP wildcard, one fsid=0.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InventorySchema } from '../../src/inventory/schema.js';
import { planSync } from '../../src/deploy/plan.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'xenroot-exportfs-'));
});
afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

let run = 0;
/** Runs exportfs -ra on `text` as /etc/exports; returns its exit code, stderr and the etab it wrote. */
async function exportfs(text: string): Promise<{ code: number; stderr: string; etab: { path: string; client: string; options: string[] }[] }> {
  const dir = join(base, `run-${run++}`);
  await mkdir(join(dir, 'exports.d'), { recursive: true });
  await mkdir(join(dir, 'varlib'), { recursive: true });
  await writeFile(join(dir, 'exports'), text);
  const script = `mount --bind ${dir}/exports /etc/exports && mount --bind ${dir}/exports.d /etc/exports.d && mount --bind ${dir}/varlib /var/lib/nfs && exportfs -ra`;
  const r = await execa('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { reject: false });
  const etab = (await readFile(join(dir, 'varlib/etab'), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^(\S+)\t([^(]+)\((.*)\)$/.exec(l)!;
      return { path: m[1]!, client: m[2]!, options: m[3]!.split(',') };
    });
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), etab };
}

function exportsText(data: ReturnType<typeof InventorySchema.parse>): string {
  const plan = planSync({ data, inventoryFile: '/x/inventory.yaml', staged: new Map(), syslinux: { pxelinux0: '', pxelinux0Size: 0, ldlinux: '', ldlinuxSize: 0 }, exportsDirExists: true, dhcpShared: false });
  const f = plan.files.find((x) => x.group === 'exports');
  return f?.kind === 'text' ? f.content : '';
}

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const cidr = fc.tuple(ipv4, fc.integer({ min: 1, max: 32 })).map(([ip, bits]) => {
  const n = ip.split('.').reduce((a, o) => ((a << 8) | Number(o)) >>> 0, 0);
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.')}/${bits}`;
});
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,6}[a-z0-9]$/);
// Names without wildcards would make exportfs resolve them (DNS): patterns and netgroups only.
const allowEntry = fc.oneof(ipv4, cidr, label.map((l) => `*.${l}.example`), label.map((l) => `pc-??.${l}`), label.map((l) => `@${l}`), fc.constant('*'));

describe('exportfs reads the generated exports file as the inventory meant', () => {
  it('random inventories: exit 0, every image path exported to exactly site.allow with its options', async () => {
    const samples = fc.sample(
      fc.record({
        allow: fc.uniqueArray(allowEntry, { minLength: 1, maxLength: 4 }),
        siteOpts: fc.subarray(['ro', 'no_root_squash', 'no_subtree_check', 'sync', 'nohide', 'insecure_locks', 'no_wdelay', 'all_squash', 'crossmnt']),
        insecure: fc.boolean(),
        pseudo: fc.boolean(),
        images: fc.uniqueArray(fc.tuple(label, fc.subarray(['rw', 'async', 'subtree_check', 'secure', 'anonuid=1000', 'sec=sys'])), { minLength: 1, maxLength: 3, selector: ([n]) => n }),
      })
        // insecure with no_root_squash is refused at entry (any local user of a client would be root over NFS)
        .map((s) => (s.insecure && s.siteOpts.includes('no_root_squash') ? { ...s, insecure: false } : s)),
      { numRuns: 25, seed: 13 },
    );
    for (const s of samples) {
      const root = join(base, 'srv');
      const images = Object.fromEntries(s.images.map(([n, o], i) => [n, { root: s.pseudo ? `${root}/nfs4/${n}` : `${root}/${n}`, exportOptions: [...o, `fsid=${100 + i}`].join(',') }]));
      for (const img of Object.values(images)) await mkdir(img.root, { recursive: true });
      const data = InventorySchema.parse({
        site: { nfsServer: '10.0.2.2', allow: s.allow, exports: { options: s.siteOpts.join(','), insecure: s.insecure, ...(s.pseudo ? { pseudoRoot: `${root}/nfs4` } : {}) } },
        images,
        guests: {},
        clients: {},
      });
      const text = exportsText(data);
      const r = await exportfs(text);
      expect(r.code, `${text}\n${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/unknown keyword|No host name given|incompatible/);
      for (const [name, o] of s.images) {
        const path = images[name]!.root;
        const rows = r.etab.filter((e) => e.path === path);
        expect(rows.map((e) => e.client).sort()).toEqual([...s.allow].sort());
        const opposite: Record<string, string> = { ro: 'rw', sync: 'async', no_subtree_check: 'subtree_check', insecure: 'secure' };
        const want = [...s.siteOpts.filter((x) => !o.includes(opposite[x] ?? '')), ...o];
        if (s.insecure && !o.includes('secure')) want.push('insecure');
        for (const row of rows) for (const w of want) expect(row.options, `${path} ${row.client}`).toContain(w);
      }
      const roots = new Set(r.etab.filter((e) => e.options.includes('fsid=0')).map((e) => e.path));
      expect(roots).toEqual(new Set(s.pseudo ? [`${root}/nfs4`] : []));
    }
  });

  it('the issue\'s case: allow 10.0.0.0/24 (never 10.0.0.*) and one fsid=0, on the pseudo-root only', async () => {
    const root = join(base, 'issue');
    await mkdir(join(root, 'nfs4/terminal'), { recursive: true });
    await mkdir(join(root, 'nfs4/kiosk'), { recursive: true });
    const data = InventorySchema.parse({
      site: { nfsServer: '10.0.0.1', allow: ['10.0.0.0/24'], exports: { pseudoRoot: join(root, 'nfs4') } },
      images: { terminal: { root: join(root, 'nfs4/terminal') }, kiosk: { root: join(root, 'nfs4/kiosk') } },
      guests: {},
      clients: {},
    });
    const r = await exportfs(exportsText(data));
    expect(r.code, r.stderr).toBe(0);
    expect(r.etab.map((e) => `${e.path} ${e.client} ${e.options.filter((o) => /^(ro|rw|fsid=.*)$/.test(o)).join(',')}`).sort()).toEqual(
      [`${root}/nfs4 10.0.0.0/24 ro,fsid=0,ro`, `${root}/nfs4/kiosk 10.0.0.0/24 ro,ro`, `${root}/nfs4/terminal 10.0.0.0/24 ro,ro`].sort(),
    );
  });
});
