/**
 * A roomful at scale: 10,000 clients imported from one CSV in one command (one locked atomic
 * write of the inventory), then one sync writes a pxelinux.cfg/01-MAC for each and one iPXE
 * script naming all of them; a second CSV with one bad line among 10,000 changes nothing and
 * names that line. Heavy (20 MB of YAML and 10,000 files), not a real daemon: run with the e2e files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addGroup } from '../../src/ops/groups.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const N = 10_000;
const mac = (i: number) => `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
let s: SyncSite;
let env: Record<string, string>;

beforeAll(async () => {
  s = await makeSite({ header: '# a lab of 10,000\n' });
  // Block-style sections, as `xenroot init` writes them.
  await writeFile(s.inventory, (await readFile(s.inventory, 'utf8')).replace('guests: {}', 'guests:').replace('clients: {}', 'clients:'));
  await addGroup(s.inventory, 'lab', { image: 'terminal', names: 'lab-{nnnnn}', append: 'quiet' });
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state') };
});
afterAll(() => s.cleanup());

describe('import of 10,000 clients', () => {
  it('one CSV of 10,000 rows is imported in one command, then one sync writes their boot files', async () => {
    const rows = ['mac,name,group,address'];
    // Addresses are unique and inside site.allow (issue 13's identity rules).
    for (let i = 0; i < N; i++) rows.push(`${mac(i)},${i % 2 ? `pc${i}` : ''},lab,${i < 200 ? `10.0.2.${10 + i}` : ''}`);
    await writeFile(join(s.dir, 'lab.csv'), rows.join('\n') + '\n');
    const t0 = Date.now();
    const r = await xenroot(['--json', 'client', 'import', join(s.dir, 'lab.csv')], { env });
    const importMs = Date.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.counts).toEqual({ added: N, updated: 0, unchanged: 0, ignored: 0 });
    expect(out.lines[0]).toEqual({ line: 2, name: 'lab-00001', mac: mac(0), outcome: 'added' });
    expect(out.lines[1]).toEqual({ line: 3, name: 'pc1', mac: mac(1), outcome: 'added' });
    const text = await readFile(s.inventory, 'utf8');
    expect(text.startsWith('# a lab of 10,000\n')).toBe(true);
    const t1 = Date.now();
    const sync = await xenroot(['--json', 'sync', '--root', s.root], { env });
    const syncMs = Date.now() - t1;
    expect(sync.code, sync.stderr).toBe(0);
    const cfg = await readdir(join(s.root, 'tftpboot/linux-install/pxelinux.cfg'));
    expect(cfg).toHaveLength(N + 1);
    expect(await readFile(join(s.root, 'tftpboot/linux-install/pxelinux.cfg', `01-${mac(9999).replace(/:/g, '-')}`), 'utf8')).toContain(`# client pc9999 (${mac(9999)}), image terminal`);
    // Each client's entry is its own: it loads the client's identity piece (issue 13).
    expect(await readFile(join(s.root, 'tftpboot/linux-install/pxelinux.cfg', `01-${mac(9999).replace(/:/g, '-')}`), 'utf8')).toMatch(/APPEND initrd=\S+,identity\/node-pc9999\.cpio\.gz /);
    // One switch link per client (beside the entries they point at).
    expect((await readdir(join(s.root, 'tftpboot/linux-install/nodes'))).filter((n) => n !== 'entries')).toHaveLength(N);
    expect(await readFile(join(s.root, 'etc/dnsmasq.d/xenroot.conf'), 'utf8')).toContain(`dhcp-host=${mac(9998)},lab-05000`);
    // Importing the same file again changes nothing.
    const again = await xenroot(['--json', 'client', 'import', join(s.dir, 'lab.csv')], { env });
    expect(JSON.parse(again.stdout).counts).toMatchObject({ added: 0, updated: 0, unchanged: N });
    console.log(`import of ${N} clients: ${importMs} ms; sync of ${JSON.parse(sync.stdout).counts.created} files: ${syncMs} ms`);
  });

  it('a CSV of 10,000 rows with one bad line changes nothing and names the line', async () => {
    const rows = ['mac,name,group'];
    for (let i = 0; i < N; i++) rows.push(`${mac(N + i)},new${i},lab`);
    rows[5001] = `${mac(2 * N + 1)},new5000,lab,extra-cell`;
    rows[7001] = `${mac(2 * N + 2)},new7000,nosuchgroup`;
    await writeFile(join(s.dir, 'bad.csv'), rows.join('\n') + '\n');
    const before = await readFile(s.inventory, 'utf8');
    const r = await xenroot(['client', 'import', join(s.dir, 'bad.csv')], { env, cwd: s.dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad\.csv:5002: not valid CSV/);
    expect(await readFile(s.inventory, 'utf8')).toBe(before);
    rows[5001] = `${mac(2 * N + 1)},new5000,lab`;
    await writeFile(join(s.dir, 'bad.csv'), rows.join('\n') + '\n');
    const r2 = await xenroot(['client', 'import', join(s.dir, 'bad.csv')], { env, cwd: s.dir });
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain('bad.csv:7002: group "nosuchgroup" is not in the inventory');
    expect(await readFile(s.inventory, 'utf8')).toBe(before);
  });
});
