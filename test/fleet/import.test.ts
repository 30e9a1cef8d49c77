import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importClients, listClients } from '../../src/ops/clients.js';
import { addGroup } from '../../src/ops/groups.js';
import { sync } from '../../src/ops/sync.js';
import { detectFormat, parseImport } from '../../src/inventory/import.js';
import { InventoryError } from '../../src/sys/errors.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const sites: SyncSite[] = [];
async function site(over: Parameters<typeof makeSite>[0] = {}) {
  const s = await makeSite(over);
  sites.push(s);
  await addGroup(s.inventory, 'lab', { image: 'terminal', names: 'lab-{nn}', append: 'quiet' });
  return s;
}
afterAll(async () => {
  for (const s of sites) await s.cleanup();
});

describe('client import', () => {
  let s: SyncSite;
  beforeAll(async () => {
    s = await site({ guests: { G: { image: 'terminal', mac: '00:16:3e:00:00:01', macSource: 'given' } } });
  });

  it('adds clients from a CSV with a header, names nameless rows from the group pattern, and reports each line', async () => {
    const csv = join(s.dir, 'room.csv');
    await writeFile(csv, 'MAC,Name,Group,Address\n52:54:00:01:00:01,pc-a,,10.0.2.101\n"52-54-00-01-00-02",,lab,\n525400010003,,lab,10.0.2.103\n\n# a comment line\n');
    const r = await importClients(s.inventory, csv);
    expect(r.format).toBe('csv');
    expect(r.counts).toEqual({ added: 3, updated: 0, unchanged: 0, ignored: 0 });
    expect(r.lines.map((l) => [l.line, l.name, l.outcome])).toEqual([[2, 'pc-a', 'added'], [3, 'lab-01', 'added'], [4, 'lab-02', 'added']]);
    const clients = await listClients(s.inventory);
    expect(clients['pc-a']).toEqual({ mac: '52:54:00:01:00:01', image: 'terminal', address: '10.0.2.101' });
    expect(clients['lab-02']).toEqual({ mac: '52:54:00:01:00:03', group: 'lab', image: 'terminal', append: 'quiet', address: '10.0.2.103' });
    // The same file again changes nothing; a changed cell updates that client only.
    expect((await importClients(s.inventory, csv)).counts).toMatchObject({ added: 0, updated: 0, unchanged: 3 });
    await writeFile(csv, 'mac,name,address\n52:54:00:01:00:01,pc-a,10.0.2.111\n52:54:00:01:00:02,lab-01,\n');
    const again = await importClients(s.inventory, csv);
    expect(again.lines.map((l) => [l.name, l.outcome, l.changed])).toEqual([['pc-a', 'updated', ['address']], ['lab-01', 'unchanged', undefined]]);
  });

  it('a CSV with one bad line changes nothing and names FILE:LINE and what is wrong', async () => {
    const before = await readFile(s.inventory, 'utf8');
    const cases: [string, RegExp][] = [
      ['mac,name\n52:54:00:02:00:01,ok1\n52:54:00:02:00:0g,bad\n', /bad\.csv:3: MAC "52:54:00:02:00:0g" is not valid/],
      ['mac,name\n52:54:00:02:00:01,ok1\n52:54:00:02:00:02,ok2\n52:54:00:02:00:03,ok1\n', /bad\.csv:4: name "ok1" is also on line 2/],
      ['mac,name,group\n52:54:00:02:00:01,ok1,\n52:54:00:02:00:02,ok2,nogroup\n', /bad\.csv:3: group "nogroup" is not in the inventory/],
      ['mac,name\n52:54:00:02:00:01,ok1\n00:16:3e:00:00:01,taken\n', /bad\.csv:3: MAC 00:16:3e:00:00:01 is already used by guest G/],
      ['mac,name,address\n52:54:00:02:00:01,ok1,10.0.2.300\n', /bad\.csv:2: address "10\.0\.2\.300": must be an IPv4 address/],
      ['mac,name,color\n52:54:00:02:00:01,ok1,red\n', /bad\.csv:1: unknown column "color"/],
      ['mac,name\n52:54:00:02:00:01,ok1,extra\n', /bad\.csv:2: not valid CSV/],
      ['mac,name\n52:54:00:02:00:01,../x\n', /bad\.csv:2: name "\.\.\/x" is not valid/],
    ];
    for (const [text, message] of cases) {
      await writeFile(join(s.dir, 'bad.csv'), text);
      const r = await xenroot(['client', 'import', join(s.dir, 'bad.csv')], { env: { XENROOT_INVENTORY: s.inventory }, cwd: s.dir });
      expect(r.code, text).toBe(3);
      expect(r.stderr, text).toMatch(message);
      expect(r.stderr).toContain('nothing was imported');
      expect(await readFile(s.inventory, 'utf8')).toBe(before);
    }
  });

  it('reads the dhcp-host lines of a dnsmasq file and the host blocks of an ISC dhcpd.conf', async () => {
    const dns = 'interface=eth1\n# lab PCs\ndhcp-host=52:54:00:03:00:01,10.0.2.151,pc151,12h\ndhcp-host=52:54:00:03:00:02,set:lab,id:*,pc152\ndhcp-host=52:54:00:03:00:03,ignore\n';
    expect(detectFormat(dns)).toBe('dnsmasq');
    const d = parseImport(dns, 'd.conf').rows;
    expect(d.map((r) => [r.line, r.mac, r.values])).toEqual([
      [3, '52:54:00:03:00:01', { address: '10.0.2.151', name: 'pc151' }],
      [4, '52:54:00:03:00:02', { name: 'pc152' }],
      [5, '52:54:00:03:00:03', {}],
    ]);
    expect(() => parseImport('dhcp-host=52:54:00:03:00:01,52:54:00:03:00:09,two\n', 'd.conf')).toThrow(/d\.conf:1: more than one MAC/);
    const isc = 'subnet 10.0.2.0 netmask 255.255.255.0 { range 10.0.2.50 10.0.2.99; }\nhost pc1 {\n  hardware ethernet 52:54:00:04:00:01; # the NIC\n  fixed-address 10.0.2.161;\n}\nhost xenroot-client-b { hardware ethernet 52:54:00:04:00:02; option host-name "pc2"; }\n';
    expect(detectFormat(isc)).toBe('isc');
    expect(parseImport(isc, 'i.conf').rows.map((r) => [r.line, r.mac, r.values])).toEqual([
      [2, '52:54:00:04:00:01', { address: '10.0.2.161', name: 'pc1' }],
      [6, '52:54:00:04:00:02', { name: 'pc2' }],
    ]);
    expect(() => parseImport('host x { fixed-address 10.0.0.1; }\n', 'i.conf')).toThrow(/i\.conf:1: host x has no "hardware ethernet" MAC/);
  });

  it('imports what xenroot sync wrote for dnsmasq and for ISC into another inventory: the same clients come back', async () => {
    const a = await site({ clients: { one: { mac: '52:54:00:05:00:01', image: 'terminal' }, two: { mac: '52:54:00:05:00:02', image: 'terminal' } } });
    await sync(a.inventory, { root: a.root });
    const b = await site();
    const r = await importClients(b.inventory, join(a.root, 'etc/dnsmasq.d/xenroot.conf'), { group: 'lab' });
    expect(r.format).toBe('dnsmasq');
    expect(Object.entries(await listClients(b.inventory)).map(([n, c]) => [n, c.mac, c.group])).toEqual([['one', '52:54:00:05:00:01', 'lab'], ['two', '52:54:00:05:00:02', 'lab']]);
    const c = await site({ site: { dhcp: { server: 'isc' } }, clients: { three: { mac: '52:54:00:05:00:03', image: 'terminal' } } });
    await sync(c.inventory, { root: c.root });
    const d = await site();
    await importClients(d.inventory, join(c.root, 'etc/dhcp/dhcpd.conf'));
    expect(Object.keys(await listClients(d.inventory))).toEqual(['three']);
    await expect(importClients(d.inventory, join(c.root, 'nope.csv'))).rejects.toThrow(/no such file/);
    await expect(importClients(d.inventory, join(c.root, 'etc/dhcp/dhcpd.conf'), { group: 'nogroup' })).rejects.toThrow(InventoryError);
  });
});
