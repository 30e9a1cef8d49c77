/**
 * The Kea DHCPv4 flavour: every file xenroot would write is judged by Kea's own parser
 * (`kea-dhcp4 -t` on a config that includes it, as an admin's kea-dhcp4.conf does), for every
 * EFI loader, with and without the boot service, with odd and hostile node names and many nodes;
 * read back, it holds each reservation as the inventory has it and the loader meant for each kind
 * of client. Golden files pin the exact text. Which class a real client falls in is proven
 * against a real kea-dhcp4 in kea.e2e.test.ts.
 */
import fc from 'fast-check';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { dhcpHostname, type DhcpHost, type EfiLoader } from '../../src/render/dnsmasq.js';
import { KEA_NODE_CLASS, renderKeaDhcp, type KeaInput } from '../../src/render/kea-dhcp.js';
import { planSync } from '../../src/deploy/plan.js';
import { InventorySchema } from '../../src/inventory/schema.js';
import { RenderError } from '../../src/sys/errors.js';
import { inventory } from '../support/model.js';

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));
const UPDATE = !!process.env.XENROOT_UPDATE_GOLDEN;
const dir = mkdtempSync(join(tmpdir(), 'xenroot-kea-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Runs `kea-dhcp4 -t` on a config whose Dhcp4 map includes FRAGMENT the way docs/netboot.md tells the admin to. */
async function keaCheck(fragment: string): Promise<{ ok: boolean; out: string }> {
  const k = ++n;
  const inc = join(dir, `xenroot-${k}.json`);
  const main = join(dir, `kea-${k}.conf`);
  writeFileSync(inc, fragment);
  writeFileSync(
    main,
    `{ "Dhcp4": {\n  <?include "${inc}"?>,\n  "interfaces-config": { "interfaces": [] },\n  "lease-database": { "type": "memfile", "persist": false },\n  "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.200.0.10 - 10.200.0.250" } ] } ]\n} }\n`,
  );
  // Lock and pid files of the check in the test's own directory.
  const r = await execa('kea-dhcp4', ['-t', main], { reject: false, all: true, env: { KEA_LOCKFILE_DIR: dir, KEA_PIDFILE_DIR: dir } });
  rmSync(inc);
  rmSync(main);
  return { ok: r.exitCode === 0, out: r.all ?? '' };
}

/** An independent reading of the include file: drop the `#` lines, wrap the members in a map. */
function read(text: string): { 'reservations-global': boolean; 'client-classes': Record<string, unknown>[]; reservations: Record<string, unknown>[] } {
  return JSON.parse(`{${text.split('\n').filter((l) => !l.startsWith('#')).join('\n')}}`);
}

const LOADER_FILE: Record<EfiLoader, string | undefined> = { syslinux: 'syslinux.efi', ipxe: 'snponly.efi', grub: 'shimx64.efi', none: undefined };
const octet = fc.integer({ min: 0, max: 255 });
const mac = fc.tuple(fc.integer({ min: 0, max: 127 }).map((b) => b * 2), octet, octet, octet, octet, octet).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
// Node names as hostile as the inventory could ever pass on: quotes, backslashes, controls, any Unicode.
const name = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,10}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.constantFrom('12', '7d', 'infinite', 'ignore', 'ab--cd', 'a"b\\c', "o'clock", '</script>', '<?include "/etc/shadow"?>'));
const host = fc.record({
  kind: fc.constantFrom('client' as const, 'guest' as const),
  name,
  mac,
  // Addresses the inventory accepts (unique per node, never 0.0.0.0 nor 255.255.255.255).
  address: fc.option(fc.tuple(fc.integer({ min: 1, max: 254 }), octet, octet, fc.integer({ min: 1, max: 254 })).map((o) => o.join('.')), { nil: undefined }),
});

describe('Kea include file (property over accepted inputs, judged by kea-dhcp4 -t)', () => {
  it('passes kea-dhcp4 -t for every EFI loader, boot server, iPXE base and boot service, with odd node names; holds every reservation and the loader of each class', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(host, { maxLength: 12, selector: (h) => h.mac }).map((hs) => hs.filter((h, i) => !h.address || hs.findIndex((o) => o.address === h.address) === i)),
        fc.constantFrom<EfiLoader>('syslinux', 'ipxe', 'grub', 'none'),
        fc.constantFrom('10.0.0.1', 'boot.lab.example'),
        fc.option(fc.constantFrom('http://10.0.0.1/tftp/', 'http://boot.lab/x'), { nil: undefined }),
        fc.option(fc.constantFrom('http://10.0.0.1:8080/boot', 'http://[fd00::1]:8080/boot/'), { nil: undefined }),
        async (hosts, efiLoader, bootServer, httpBase, httpBoot) => {
          const input: KeaInput = { hosts: hosts as DhcpHost[], proxy: false, bootServer, efiLoader, ...(httpBase ? { httpBase } : {}), ...(httpBoot ? { httpBoot } : {}) };
          const text = renderKeaDhcp(input);
          const check = await keaCheck(text);
          expect(check.ok, `${check.out}\n${text}`).toBe(true);
          const cfg = read(text);
          expect(cfg['reservations-global']).toBe(true);
          const byName = new Map(cfg['client-classes'].map((c) => [c.name as string, c]));
          const efi = LOADER_FILE[efiLoader];
          expect(byName.get('xenroot-bios')?.['boot-file-name']).toBe('pxelinux.0');
          expect(byName.get('xenroot-ipxe')?.['boot-file-name']).toBe(httpBase ? `${httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe');
          expect(byName.get('xenroot-uefi')?.['boot-file-name']).toBe(efi);
          expect(byName.get('xenroot-uefi-http')?.['boot-file-name']).toBe(httpBoot && efi ? `${httpBoot.replace(/\/+$/, '')}/snponly.efi` : undefined);
          // Every class that hands out a file is for xenroot's nodes only.
          for (const c of cfg['client-classes']) if (c['boot-file-name']) expect(c.test).toMatch(/^member\('KNOWN'\) and member\('xenroot-node'\) and /);
          expect(cfg.reservations).toHaveLength(hosts.length);
          for (const h of hosts) {
            const r = cfg.reservations.find((x) => x['hw-address'] === h.mac)!;
            expect(r['ip-address']).toBe(h.address);
            expect(r.hostname).toBe(dhcpHostname(h.name));
            expect(r['client-classes']).toEqual([KEA_NODE_CLASS]);
            expect(r['user-context']).toEqual({ xenroot: `${h.kind} ${h.name}` });
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('passes kea-dhcp4 -t with 5,000 nodes', async () => {
    const hosts: DhcpHost[] = Array.from({ length: 5000 }, (_, i) => ({
      kind: 'client',
      name: `lab-${i}`,
      mac: `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
      // Unique addresses: the inventory refuses two nodes with one.
      address: `10.${100 + (i >> 8)}.${i & 255}.7`,
    }));
    const text = renderKeaDhcp({ hosts, proxy: false, bootServer: '10.0.0.1' });
    const check = await keaCheck(text);
    expect(check.ok, check.out.slice(-2000)).toBe(true);
    expect(read(text).reservations).toHaveLength(5000);
  });

  it('refuses proxy mode (Kea has none), in the renderer and at entry in the inventory', () => {
    expect(() => renderKeaDhcp({ hosts: [], proxy: true, bootServer: '10.0.0.1' })).toThrow(RenderError);
    const r = InventorySchema.safeParse({ site: { nfsServer: '10.0.0.1', dhcp: { server: 'kea', proxy: true } }, images: {}, guests: {}, clients: {} });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['site', 'dhcp', 'proxy'], message: expect.stringContaining('Kea has no proxy-DHCP') });
  });

  it('refuses the unspecified and the broadcast address at entry (Kea refuses a reservation of either)', () => {
    for (const address of ['0.0.0.0', '255.255.255.255/24']) {
      const r = InventorySchema.safeParse({ site: { nfsServer: '10.0.0.1' }, images: {}, guests: {}, clients: { pc: { mac: '52:54:00:00:00:01', image: 'x', address } } });
      expect(r.success, address).toBe(false);
    }
  });
});

describe('Kea in the sync plan', () => {
  const syslinux = { pxelinux0: '', pxelinux0Size: 0, ldlinux: '', ldlinuxSize: 0 };
  const kea = (over: Record<string, unknown> = {}) =>
    inventory({ site: { dhcp: { server: 'kea' }, ...over }, clients: { pc1: { mac: '52:54:00:00:00:21', image: 'terminal', address: '10.0.2.50/24' } } });

  it('writes the include file at /etc/kea/xenroot-dhcp4.json, a DHCP file, with the client reserved; with serve on, UEFI HTTP Boot gets the loader from it', () => {
    const plan = planSync({ data: kea({ serve: { listen: '10.0.2.2:8080' } }), inventoryFile: '/x/inventory.yaml', staged: new Map(), syslinux, exportsDirExists: true, dhcpShared: false });
    const f = plan.files.find((x) => x.group === 'dhcp');
    expect(f).toMatchObject({ kind: 'text', path: '/etc/kea/xenroot-dhcp4.json', owner: 'site' });
    const cfg = read((f as { content: string }).content);
    expect(cfg.reservations).toEqual([{ 'hw-address': '52:54:00:00:00:21', 'ip-address': '10.0.2.50', hostname: 'pc1', 'client-classes': ['xenroot-node'], 'user-context': { xenroot: 'client pc1' } }]);
    expect(cfg['client-classes'].find((c) => c.name === 'xenroot-uefi-http')).toMatchObject({ 'boot-file-name': 'http://10.0.2.2:8080/boot/snponly.efi', 'option-data': [{ name: 'vendor-class-identifier', data: 'HTTPClient', 'always-send': true }] });
  });

  it('leaves a file at that path that xenroot did not write alone, and says why (Kea\'s part is never a block in the admin\'s JSON)', () => {
    const plan = planSync({ data: kea(), inventoryFile: '/x/inventory.yaml', staged: new Map(), syslinux, exportsDirExists: true, dhcpShared: true });
    expect(plan.files.filter((x) => x.group === 'dhcp')).toEqual([]);
    expect(plan.warnings.join('\n')).toMatch(/\/etc\/kea\/xenroot-dhcp4\.json is not a file xenroot wrote/);
  });
});

describe('Kea golden files', () => {
  const cases: Record<string, KeaInput> = {
    'kea-default': {
      hosts: [
        { kind: 'client', name: 'lab-01', mac: '52:54:00:00:00:21', address: '10.0.2.50' },
        { kind: 'client', name: 'odd_name', hostname: 'odd-name', mac: '52:54:00:00:00:22' },
        { kind: 'guest', name: 'Terminal', mac: '00:16:3e:12:34:56' },
      ],
      proxy: false,
      bootServer: '10.0.2.2',
    },
    'kea-serve-ipxe': {
      hosts: [{ kind: 'client', name: 'lab-01', mac: '52:54:00:00:00:21', address: '10.0.2.50' }],
      proxy: false,
      bootServer: 'boot.lab.example',
      efiLoader: 'ipxe',
      httpBase: 'http://10.0.2.2:8080/boot',
      httpBoot: 'http://10.0.2.2:8080/boot',
    },
  };
  for (const [caseName, input] of Object.entries(cases))
    it(`renders ${caseName} exactly as test/golden/${caseName}.json, and kea-dhcp4 -t takes it`, async () => {
      const text = renderKeaDhcp(input);
      const file = join(GOLDEN, `${caseName}.json`);
      // Only an explicit update writes a golden file: a missing one fails.
      if (UPDATE) writeFileSync(file, text);
      expect(existsSync(file), `${file} is missing: run \`npm run golden:update\` and review it`).toBe(true);
      expect(text).toBe(readFileSync(file, 'utf8'));
      expect((await keaCheck(text)).ok).toBe(true);
    });
});
