import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { create } from 'xmlbuilder2';
import { describe, expect, it } from 'vitest';
import { InventorySchema } from '../../src/inventory/schema.js';
import { parseMac } from '../../src/inventory/validate.js';
import { argKey } from '../../src/render/cmdline.js';
import { guestSpec } from '../../src/render/guest-spec.js';
import { renderQemuXml, renderXenXml } from '../../src/render/libvirt-xml.js';
import { renderXlCfg } from '../../src/render/xlcfg.js';
import { RenderError } from '../../src/sys/errors.js';
import { parseVif, parseXlCfg } from '../support/xlcfg-parse.js';
import { FORMAT_RUNS } from '../support/runs.js';

type Xml = Record<string, unknown>;

/** Reads the fields both formats carry out of a domain XML. */
function readXml(xml: string) {
  const doc = create(xml).end({ format: 'object' }) as { domain: Xml };
  const d = doc.domain as Record<string, any>; // eslint-disable-line -- shape of xmlbuilder2's object form
  const nic = d.devices.interface;
  // Text as an XML parser reads it, entities decoded once (xmlbuilder2's reader keeps `&amp;` in its
  // object form and decodes twice in its DOM): fast-xml-parser.
  const os = (new XMLParser({ parseTagValue: false }).parse(xml) as { domain: { name: string; os: Record<string, string | undefined> } }).domain;
  return {
    name: os.name,
    memoryKiB: Number(d.memory['#']),
    currentKiB: Number(d.currentMemory['#']),
    vcpus: Number(d.vcpu['#']),
    kernel: os.os.kernel,
    initrd: os.os.initrd,
    cmdline: os.os.cmdline,
    mac: nic?.mac?.['@address'] as string | undefined,
    bridge: nic?.source?.['@bridge'] as string | undefined,
  };
}

/** Reads the same fields out of an xl .cfg. */
function readCfg(cfg: string) {
  const c = parseXlCfg(cfg);
  const vif = parseVif((c.vif as string[])[0]!);
  return {
    name: c.name as string,
    memoryKiB: (c.maxmem as number) * 1024,
    currentKiB: (c.memory as number) * 1024,
    vcpus: c.vcpus as number,
    kernel: c.kernel as string,
    initrd: c.ramdisk as string,
    cmdline: c.extra as string,
    mac: vif.mac,
    bridge: vif.bridge,
  };
}

function model(over: { name?: string; root?: string; bootDir?: string; append?: string; mac?: string; bridge?: string; memory?: number }) {
  return InventorySchema.safeParse({
    site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], ...(over.bootDir !== undefined ? { bootDir: over.bootDir } : {}) },
    images: { img: { root: over.root ?? '/srv/img', kver: '6.1.0-28-amd64' } },
    guests: {
      [over.name ?? 'g']: {
        image: 'img',
        ...(over.append !== undefined ? { append: over.append } : {}),
        ...(over.mac !== undefined ? { mac: over.mac } : {}),
        ...(over.bridge !== undefined ? { bridge: over.bridge } : {}),
        ...(over.memory !== undefined ? { memory: over.memory } : {}),
      },
    },
  });
}

/** Accepted models render to a .cfg and an XML that read back as the same machine. */
function checkRoundTrip(over: Parameters<typeof model>[0]): 'accepted' | 'rejected' {
  const parsed = model(over);
  if (!parsed.success) return 'rejected';
  const name = over.name ?? 'g';
  let spec;
  try {
    spec = guestSpec(parsed.data, name, 'xen');
  } catch (err) {
    expect(err).toBeInstanceOf(RenderError);
    return 'rejected';
  }
  const fromCfg = readCfg(renderXlCfg(spec));
  const fromXml = readXml(renderXenXml(spec));
  expect(fromCfg).toEqual(fromXml);
  expect(fromXml.name).toBe(name);
  expect(fromXml.cmdline).toBe(spec.cmdline);
  // An append that repeats nothing and names no setting the line already holds comes last, verbatim
  // (conflicting ones are resolved: test/render/cmdline.test.ts).
  const appended = over.append?.trim().split(/\s+/) ?? [];
  const generatedKeys = new Set(guestSpec(model({ ...over, append: '' }).data!, name, 'xen').cmdline.split(' ').map(argKey));
  if (appended.length && new Set(appended.map(argKey)).size === appended.length && !appended.some((a) => generatedKeys.has(argKey(a)) || ['ro', 'rw', 'nfsroot'].includes(a)))
    expect(fromXml.cmdline!.endsWith(appended.join(' '))).toBe(true);
  if (over.mac !== undefined) expect(fromXml.mac).toBe(parseMac(over.mac));
  else expect(fromXml.mac).toBeUndefined();
  const q = readXml(renderQemuXml(guestSpec(parsed.data, name, 'qemu')));
  expect(q.name).toBe(name);
  expect(q.mac).toBe(fromXml.mac);
  return 'accepted';
}

const anyText = fc.string({ unit: 'binary', maxLength: 40 });
const nameLike = fc.oneof(anyText, fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,20}$/), fc.constantFrom('..', '.hidden', 'a/b', 'a b', "o'neil", 'x'.repeat(64)));
const pathLike = fc.oneof(anyText, fc.stringMatching(/^(\/[A-Za-z0-9_.-]{1,8}){1,4}$/), fc.constantFrom('/a/../b', 'relative/path', "/it's", '/a\nb', '/a b', '/srv/&lt;boot', '/a&b', '/x&#65;'));
const argsLike = fc.oneof(anyText, fc.stringMatching(/^([a-z_.]{1,8}(=[a-z0-9,]{0,6})? ?){0,5}$/), fc.constantFrom('a"b', "it's", 'x\\y', 'a\u0000b', 'quiet\nroot=/dev/sda', 'x'.repeat(2100), 'x=&amp;', 'y=&lt;z'));
const macLike = fc.oneof(
  anyText,
  fc.tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }), fc.constantFrom(':', '-', ''), fc.boolean()).map(([b, sep, up]) => {
    const s = b.map((x) => x.toString(16).padStart(2, '0')).join(sep);
    return up ? s.toUpperCase() : s;
  }),
  fc.constantFrom('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '00:16:3e:12:34:5'),
);

describe('properties: generated files mean what the model says, or nothing is generated', () => {
  it('random guest names round-trip or are rejected', () => {
    fc.assert(fc.property(nameLike, (name) => void checkRoundTrip({ name })), { numRuns: FORMAT_RUNS });
  });
  it('random image paths and boot dirs round-trip or are rejected', () => {
    fc.assert(fc.property(pathLike, pathLike, (root, bootDir) => void checkRoundTrip({ root, bootDir })), { numRuns: FORMAT_RUNS });
  });
  it('random kernel arguments round-trip or are rejected', () => {
    fc.assert(fc.property(argsLike, (append) => void checkRoundTrip({ append })), { numRuns: FORMAT_RUNS });
  });
  it('random MACs are normalised and round-trip, or are rejected', () => {
    fc.assert(
      fc.property(macLike, (mac) => {
        const outcome = checkRoundTrip({ mac });
        expect(outcome === 'accepted').toBe(parseMac(mac) !== undefined);
      }),
      { numRuns: FORMAT_RUNS },
    );
  });
  it('names with path separators, quotes or a leading dot are always rejected', () => {
    for (const name of ['a/b', '../x', '.x', "o'neil", 'a"b', 'a b', 'a\nb', ''])
      expect(checkRoundTrip({ name }), name).toBe('rejected');
  });
  it('kernel arguments with quotes, backslashes or control characters are always rejected', () => {
    for (const append of ["it's", 'a"b', 'x\\y', 'a\u0000b', 'q\nroot=/dev/sda', 'x'.repeat(2100)]) expect(checkRoundTrip({ append }), append).toBe('rejected');
  });
  it('the all-zero, broadcast and multicast MACs are rejected', () => {
    for (const mac of ['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01']) expect(checkRoundTrip({ mac })).toBe('rejected');
  });
});

describe('renderer guards (values that bypass the schema)', () => {
  const base = guestSpec(model({}).data!, 'g', 'xen');
  it('refuses a quote in an xl string instead of emitting it', () => {
    expect(() => renderXlCfg({ ...base, kernel: "/boot/vm'linuz" })).toThrow(RenderError);
  });
  it('refuses a comma in a vif bridge', () => {
    expect(() => renderXlCfg({ ...base, bridge: 'br0,script=evil' })).toThrow(/vif bridge/);
  });
  it('refuses control characters in XML text', () => {
    expect(() => renderXenXml({ ...base, cmdline: 'a\u0001b' })).toThrow(RenderError);
  });
  it('never writes an all-zero MAC into XML', () => {
    expect(() => renderXenXml({ ...base, mac: '00:00:00:00:00:00' })).toThrow(/not a usable unicast/);
  });
  it('writes no <mac> element and no mac= when none is pinned', () => {
    expect(renderXenXml(base)).not.toContain('<mac');
    expect(renderXlCfg(base)).toContain("vif = [ 'bridge=xenbr0' ]");
  });
});
