/**
 * DHCP configs by client architecture: every inventory the schema accepts renders a dnsmasq
 * drop-in and an ISC fragment that hand each kind of client the loader meant for it (BIOS:
 * pxelinux.0; x86-64 UEFI, client-arch 7 or 9: the site's EFI loader; iPXE: its script; x64 UEFI
 * HTTP Boot, client-arch 16 with vendor class HTTPClient: iPXE's URL and option 60 echoed; other
 * architectures: nothing), exactly one dhcp-boot line matching, and the reservations the
 * inventory holds. Read back with independent readers of both formats (test/support/dhcp-parse.ts);
 * the real daemons' parsers check the same files in dhcp-daemons.e2e.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderDnsmasq, type DhcpHost, type EfiLoader } from '../../src/render/dnsmasq.js';
import { renderIscDhcp } from '../../src/render/isc-dhcp.js';
import { dnsmasqOffer, iscOffer, parseDnsmasq, parseIsc } from '../support/dhcp-parse.js';
import { FORMAT_RUNS } from '../support/runs.js';

const LOADER_FILE: Record<EfiLoader, string | undefined> = { syslinux: 'syslinux.efi', ipxe: 'snponly.efi', grub: 'shimx64.efi', none: undefined };

const HTTP_CLIENT = 'HTTPClient:Arch:00016:UNDI:003001';
/** Vendor classes clients send: none, PXE firmware's, UEFI HTTP Boot's (x64). */
const VENDORS = [undefined, 'PXEClient:Arch:00007:UNDI:003016', HTTP_CLIENT];

/** What a client should be handed (proxy: dnsmasq's proxy-DHCP, which answers PXE clients only). */
function expected(arch: number, ipxe: boolean, loader: EfiLoader, httpBase: string | undefined, vendorClass?: string, proxy = false): string | undefined {
  if (ipxe) return httpBase ? `${httpBase.replace(/\/+$/, '')}/ipxe/boot.ipxe` : 'ipxe/boot.ipxe';
  if (arch === 16) return vendorClass === HTTP_CLIENT && httpBase && loader !== 'none' && !proxy ? `${httpBase.replace(/\/+$/, '')}/snponly.efi` : undefined;
  if (arch === 7 || arch === 9) return LOADER_FILE[loader];
  if (arch === 0) return 'pxelinux.0';
  return undefined;
}

const octet = fc.integer({ min: 0, max: 255 });
const mac = fc.tuple(fc.integer({ min: 0, max: 127 }).map((b) => b * 2), octet, octet, octet, octet, octet).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const host = fc.record({
  kind: fc.constantFrom('client' as const, 'guest' as const),
  name: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,10}$/), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,10}$/), fc.constantFrom('12', '7d', '1w', 'infinite', 'ignore', 'ab--cd', 'xn--x')),
  mac,
  address: fc.option(fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')), { nil: undefined }),
});
const ARCHES = [0, 2, 6, 7, 9, 10, 11, 15, 16, 19];

describe('DHCP by client architecture (property over accepted inputs)', () => {
  it('dnsmasq: each kind of client matches exactly one boot line, the one meant for it; every reservation as in the inventory', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(host, { maxLength: 6, selector: (h) => h.mac }),
        fc.boolean(),
        fc.constantFrom<EfiLoader>('syslinux', 'ipxe', 'grub', 'none'),
        fc.option(fc.constantFrom('http://10.0.0.1/tftp/', 'http://boot.lab/x'), { nil: undefined }),
        (hosts, proxy, efiLoader, httpBase) => {
          const text = renderDnsmasq({ hosts: hosts as DhcpHost[], proxy, subnet: '10.0.0.0/24', bootServer: '10.0.0.1', efiLoader, ...(httpBase ? { httpBase } : {}) });
          const cfg = parseDnsmasq(text);
          for (const arch of ARCHES)
            for (const ipxe of [false, true])
              for (const vendorClass of VENDORS) {
                const offer = dnsmasqOffer(cfg, { arch, ipxe, known: true, ...(vendorClass ? { vendorClass } : {}) });
                const want = expected(arch, ipxe, efiLoader, httpBase, vendorClass, proxy);
                expect(offer.file, `arch ${arch} ipxe ${ipxe} vendor ${vendorClass}\n${text}`).toBe(want);
                expect(offer.matches).toBe(want === undefined ? 0 : 1);
                // Option 60 "HTTPClient" goes with the HTTP boot URL, and only with it.
                expect(offer.vendorClass).toBe(want?.startsWith('http') && !ipxe ? 'HTTPClient' : undefined);
              }
          expect(cfg.reservations).toHaveLength(hosts.length);
          for (const h of hosts) {
            const r = cfg.reservations.find((x) => x.mac === h.mac)!;
            expect(r.address).toBe(proxy ? undefined : h.address);
            // The reservation is never read as a lease time or as "ignore this MAC"; a name is kept
            // whenever it is a host name dnsmasq takes as one.
            expect(r.leaseTime).toBeUndefined();
            expect(r.ignored).toBeUndefined();
            const usable = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(h.name) && !/^\d+[smhdw]?$/i.test(h.name) && !['infinite', 'ignore'].includes(h.name) && h.name.slice(2, 4) !== '--';
            expect(r.hostname).toBe(usable ? h.name : undefined);
          }
        },
      ),
      { numRuns: FORMAT_RUNS },
    );
  });

  it('ISC: option 93 declared under xenroot\'s name and used by it; each declared host gets the file meant for its architecture', () => {
    fc.assert(
      fc.property(fc.uniqueArray(host, { maxLength: 6, selector: (h) => h.mac }), fc.constantFrom<EfiLoader>('syslinux', 'ipxe', 'grub', 'none'), fc.option(fc.constantFrom('http://10.0.0.1/tftp/', 'http://boot.lab/x'), { nil: undefined }), (hosts, efiLoader, httpBase) => {
        const text = renderIscDhcp({ hosts: hosts as DhcpHost[], proxy: false, bootServer: '10.0.0.1', efiLoader, ...(httpBase ? { httpBase } : {}) });
        const cfg = parseIsc(text);
        expect(cfg.archOption).toBe('xenroot-arch');
        expect(cfg.nextServer).toBe('10.0.0.1');
        for (const arch of ARCHES)
          for (const ipxe of [false, true])
            for (const vendorClass of VENDORS) {
              const ask = { arch, ipxe, ...(vendorClass ? { vendorClass } : {}) };
              const offer = iscOffer(cfg, { ...ask, known: true });
              const want = expected(arch, ipxe, efiLoader, httpBase, vendorClass);
              expect(offer.file, `arch ${arch} ipxe ${ipxe} vendor ${vendorClass}`).toBe(want);
              expect(offer.vendorClass).toBe(want?.startsWith('http') && !ipxe ? 'HTTPClient' : undefined);
              // The chain sits inside the group: unknown MACs get nothing from this fragment (docs/netboot.md).
              expect(iscOffer(cfg, { ...ask, known: false }).file).toBeUndefined();
            }
        for (const h of hosts) {
          const r = cfg.reservations.find((x) => x.mac === h.mac)!;
          expect(r.address).toBe(h.address);
        }
      }),
      { numRuns: FORMAT_RUNS },
    );
  });

  it('OVMF\'s request (arch 7) gets syslinux.efi by default; a BIOS ROM pxelinux.0; iPXE under either its script', () => {
    const cfg = parseDnsmasq(renderDnsmasq({ hosts: [], proxy: false, bootServer: '10.0.0.1' }));
    expect(dnsmasqOffer(cfg, { arch: 7, ipxe: false, known: true }).file).toBe('syslinux.efi');
    expect(dnsmasqOffer(cfg, { arch: 0, ipxe: false, known: true }).file).toBe('pxelinux.0');
    expect(dnsmasqOffer(cfg, { arch: 7, ipxe: true, known: true }).file).toBe('ipxe/boot.ipxe');
    const proxy = parseDnsmasq(renderDnsmasq({ hosts: [], proxy: true, subnet: '192.168.1.0/24', bootServer: '192.168.1.5' }));
    expect(proxy.pxeServices.map((p) => `${p.csa} ${p.file}`)).toEqual(['x86PC pxelinux', 'BC_EFI syslinux.efi', 'x86-64_EFI syslinux.efi']);
  });

  it('a UEFI HTTP Boot client (arch 16, HTTPClient) is handed iPXE by URL from the boot service with option 60 echoed; without an HTTP base it gets nothing, never pxelinux.0', () => {
    const http = { arch: 16, ipxe: false, known: true, vendorClass: HTTP_CLIENT };
    const base = 'http://10.0.2.2:8080/boot';
    for (const offer of [dnsmasqOffer(parseDnsmasq(renderDnsmasq({ hosts: [], proxy: false, bootServer: '10.0.2.2', httpBase: base })), http), iscOffer(parseIsc(renderIscDhcp({ hosts: [], proxy: false, bootServer: '10.0.2.2', httpBase: base })), http)])
      expect(offer).toEqual({ file: 'http://10.0.2.2:8080/boot/snponly.efi', matches: 1, vendorClass: 'HTTPClient' });
    expect(dnsmasqOffer(parseDnsmasq(renderDnsmasq({ hosts: [], proxy: false, bootServer: '10.0.2.2' })), http)).toEqual({ file: undefined, matches: 0 });
    expect(iscOffer(parseIsc(renderIscDhcp({ hosts: [], proxy: false, bootServer: '10.0.2.2' })), http)).toEqual({ file: undefined, matches: 1 });
  });

  it('a reservation with a static address hands it out (dnsmasq dhcp-host, ISC fixed-address)', () => {
    const hosts: DhcpHost[] = [{ kind: 'client', name: 'pc1', hostname: 'pc1', mac: '52:54:00:00:00:21', address: '10.0.2.50' }];
    expect(renderDnsmasq({ hosts, proxy: false, bootServer: '10.0.2.2' })).toContain('dhcp-host=52:54:00:00:00:21,10.0.2.50,pc1\n');
    expect(renderIscDhcp({ hosts, proxy: false, bootServer: '10.0.2.2' })).toContain('host xenroot-client-pc1 { hardware ethernet 52:54:00:00:00:21; fixed-address 10.0.2.50; option host-name "pc1"; }');
  });
});
