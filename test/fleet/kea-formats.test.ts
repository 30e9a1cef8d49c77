/**
 * Kea's files as `client discover` and `client import` read them: the memfile lease file
 * (kea-leases4.csv, rows as kea-dhcp4 2.2 wrote them in kea.e2e.test.ts) and reservations from a
 * kea-dhcp4.conf with comments, from a bare list, and from the include file xenroot writes.
 * Hostile values (a DHCP client picks its own host name) reach the terminal escaped.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseFormat, parseKeaLeases } from '../../src/deploy/leases.js';
import { detectFormat, parseImport } from '../../src/inventory/import.js';
import { renderKeaDhcp } from '../../src/render/kea-dhcp.js';
import { InventoryError } from '../../src/sys/errors.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

const HEADER = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context';

describe('Kea memfile leases (client discover)', () => {
  it('reads address, MAC, host name and times (given at expire - valid_lifetime); the last row of an address wins; rows without a MAC are skipped', () => {
    const text = [
      HEADER,
      '10.78.0.50,52:54:00:00:00:21,01:52:54:00:00:00:21,600,1796670679,1,0,0,pc1,0,',
      '10.78.0.100,52:54:00:00:00:99,01:52:54:00:00:00:99,600,1796670679,1,0,0,,0,',
      '10.78.0.100,52:54:00:00:00:98,,3600,1796674000,1,0,0,second,0,',
      '10.78.0.101,,01:02:03,600,1796670679,1,0,0,nomac,0,',
      '',
    ].join('\n');
    expect(leaseFormat(text)).toBe('kea');
    expect(parseKeaLeases(text)).toEqual([
      { mac: '52:54:00:00:00:21', ip: '10.78.0.50', hostname: 'pc1', leaseExpires: 1796670679000, firstSeen: 1796670079000, lastSeen: 1796670079000, fetched: [], askedDefault: { pxelinux: false, ipxe: false }, seenIn: ['leases'] },
      { mac: '52:54:00:00:00:98', ip: '10.78.0.100', hostname: 'second', leaseExpires: 1796674000000, firstSeen: 1796670400000, lastSeen: 1796670400000, fetched: [], askedDefault: { pxelinux: false, ipxe: false }, seenIn: ['leases'] },
    ]);
  });

  it('finds columns by name (Kea 2.4 and later add pool_id) and undoes Kea\'s &#xHH escapes in a host name', () => {
    const text = `${HEADER},pool_id\n10.0.0.9,52:54:00:00:00:09,,600,1796670679,1,0,0,a&#x2cb,0,,0\n`;
    expect(parseKeaLeases(text)).toMatchObject([{ mac: '52:54:00:00:00:09', ip: '10.0.0.9', hostname: 'a,b' }]);
  });

  describe('from the attacker\'s side', () => {
    let s: SyncSite;
    beforeAll(async () => {
      s = await makeSite();
    });
    afterAll(async () => {
      await s?.cleanup();
    });
    it('client discover shows a hostile host name from a Kea lease file escaped, not as terminal controls', async () => {
      const leases = join(s.dir, 'kea-leases4.csv');
      // What Kea writes for a client that sent ESC ] 0 ; owned BEL ESC [ 2 J as its name (commas escaped).
      await writeFile(leases, `${HEADER}\n10.0.2.77,52:54:00:16:00:01,,3600,${Math.floor(Date.now() / 1000) + 3600},1,0,0,pc\u001b]0;owned\u0007\u001b[2J&#x2cx,0,\n`);
      const r = await xenroot(['client', 'discover', '--leases', leases], { env: { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state') } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('52:54:00:16:00:01');
      expect(r.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(r.stdout).toContain('pc\\x1b]0;owned\\x07\\x1b[2J,x');
    });
  });
});

describe('Kea reservations (client import)', () => {
  const conf = `// kea-dhcp4.conf as an admin keeps it
{
  "Dhcp4": {
    # global ones
    "reservations": [
      { "hw-address": "52:54:00:aa:00:01", "ip-address": "10.1.0.11", "hostname": "lab-01" } /* first */
    ],
    "subnet4": [ {
      "id": 1, "subnet": "10.1.0.0/24",
      "reservations": [
        { "hw-address": "52-54-00-AA-00-02", "hostname": "lab-02", "option-data": [ { "name": "routers", "data": "10.1.0.1" } ] },
        // a string with comment marks inside stays a string
        { "hw-address": "52:54:00:aa:00:03", "hostname": "x#y//z" }
      ]
    } ]
  }
}
`;

  it('reads reservations from a whole kea-dhcp4.conf with #, // and /* */ comments, global and per subnet, each with its line', () => {
    expect(detectFormat(conf)).toBe('kea');
    expect(parseImport(conf, 'kea.conf').rows).toEqual([
      { line: 6, mac: '52:54:00:aa:00:01', values: { address: '10.1.0.11', name: 'lab-01' } },
      { line: 11, mac: '52:54:00:aa:00:02', values: { name: 'lab-02' } },
      { line: 13, mac: '52:54:00:aa:00:03', values: { name: 'x#y//z' } },
    ]);
  });

  it('reads the include file xenroot writes and a bare list of reservations', () => {
    const own = renderKeaDhcp({ hosts: [{ kind: 'client', name: 'pc1', mac: '52:54:00:00:00:21', address: '10.0.2.50' }], proxy: false, bootServer: '10.0.2.2' });
    expect(parseImport(own, 'xenroot-dhcp4.json').rows).toMatchObject([{ mac: '52:54:00:00:00:21', values: { address: '10.0.2.50', name: 'pc1' } }]);
    expect(parseImport('[{"hw-address":"52:54:00:00:00:31"}]', 'list.json', 'kea').rows).toEqual([{ line: 1, mac: '52:54:00:00:00:31', values: {} }]);
  });

  it('refuses the whole file on a bad reservation, naming FILE:LINE and the value: no MAC, a bad MAC, a bad address, an include, bad JSON', () => {
    const cases: [string, RegExp][] = [
      ['{"reservations": [\n{"client-id": "01:02:03", "hostname": "a"}]}', /^f\.json:2: reservation .*client-id.* has no "hw-address"/],
      ['{"reservations": [\n\n{"hw-address": "zz:54:00:00:00:01"}]}', /^f\.json:3: MAC "zz:54:00:00:00:01" is not valid/],
      ['{"reservations": [{"hw-address": "52:54:00:00:00:01", "ip-address": "2001:db8::1"}]}', /^f\.json:1: ip-address "2001:db8::1" of 52:54:00:00:00:01: xenroot takes one IPv4 address/],
      ['{ "Dhcp4": {\n  <?include "/etc/kea/hosts.json"?>\n} }', /^f\.json:2: <\?include "\/etc\/kea\/hosts\.json"\?>: import the included file itself/],
      ['{"reservations": [\n{"hw-address": "52:54:00:00:00:01",, }]}', /^f\.json:2: not valid Kea JSON/],
    ];
    for (const [text, message] of cases) {
      let err: unknown;
      try {
        parseImport(text, 'f.json', 'kea');
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(InventoryError);
      expect((err as Error).message, text).toMatch(message);
    }
  });
});
