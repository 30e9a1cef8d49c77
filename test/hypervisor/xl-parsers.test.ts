// xl cannot run here (no Xen on this machine): these tests feed the parsers recorded samples of
// real xl output whose layout comes from xl's source (xl_vif.c, xl_info.c) and its documentation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/sys/errors.js';
import { nameFromXlCfg, parseXlList, parseXlListLong, parseXlNetworkList, xlFlagsToState } from '../../src/hypervisor/xl.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('xl output parsers (recorded xl samples, xl itself cannot run here)', () => {
  it('reads every vif MAC, lower-cased, from recorded `xl network-list` output', () => {
    const nics = parseXlNetworkList(fixture('xl-network-list.txt'));
    expect(nics.map((n) => n.mac)).toEqual(['00:16:3e:5a:2b:7c', '00:16:3e:10:8a:7e']);
    expect(nics[0]).toMatchObject({ idx: 0, backendDomid: 0, state: 4, evtch: 11, txRingRef: 1280, rxRingRef: 1281, backendPath: '/local/domain/0/backend/vif/7/0' });
  });

  it('parses a recorded `xl network-list` row of a vif still initialising (-1 ring refs)', () => {
    const [nic] = parseXlNetworkList(fixture('xl-network-list-initialising.txt'));
    expect(nic).toMatchObject({ mac: '00:16:3e:43:38:e2', state: 1, evtch: -1, txRingRef: -1, rxRingRef: -1 });
  });

  it('treats `xl network-list` with only the header as no NICs and rejects garbage rows', () => {
    expect(parseXlNetworkList('Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path\n')).toEqual([]);
    expect(() => parseXlNetworkList('0 0 not-a-mac 0 4 1 1/1 /x')).toThrow(HypervisorError);
  });

  it('maps the state flags of recorded `xl list` output to domain states', () => {
    const rows = parseXlList(fixture('xl-list.txt'));
    expect(rows.map((r) => [r.name, r.id, r.state])).toEqual([
      ['Domain-0', 0, 'running'],
      ['terminal', 7, 'blocked'],
      ['paused-one', 8, 'paused'],
      ['broken', 9, 'crashed'],
    ]);
    expect(rows[1]).toMatchObject({ memMiB: 256, vcpus: 1, timeS: 3.1 });
    expect(xlFlagsToState('---s--')).toBe('shutdown');
    expect(xlFlagsToState('-----d')).toBe('dying');
  });

  it('reads name, uuid and NIC MAC/bridge from recorded `xl list -l` JSON', () => {
    const [dom] = parseXlListLong(fixture('xl-list-l.json'));
    expect(dom).toEqual({
      domid: 7,
      name: 'terminal',
      uuid: '2b2f0c4e-6a3e-4f0e-9d2d-6a1f3f0b7c11',
      nics: [{ devid: 0, mac: '00:16:3e:5a:2b:7c', bridge: 'xenbr0' }],
    });
  });

  it('rejects `xl list -l` output that is not JSON (xl.conf output_format=sxp) with a hint', () => {
    expect(() => parseXlListLong('(domain (domid 7))')).toThrow(/did not print JSON/);
  });

  it('finds the guest name in an xl cfg', () => {
    expect(nameFromXlCfg('# generated\nname = "terminal"\nmemory = 256\n')).toBe('terminal');
    expect(() => nameFromXlCfg('memory = 256\n')).toThrow(/no name/);
  });
});
