/**
 * Every value of every enumeration that reaches a libvirt domain renders a domain libvirt's own
 * schema accepts (`virt-xml-validate FILE domain`), or the inventory refuses it at entry. The
 * enumerations are read from the schema itself (every enum field of a guest and of an image) and
 * from constants.ts (domain flavours, boot targets), so a value or a field added later is
 * validated here without anyone listing it.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_TARGETS, DOMAIN_TARGETS } from '../../src/inventory/constants.js';
import { FIELDS, GuestSchema } from '../../src/inventory/schema.js';
import { guestSpec } from '../../src/render/guest-spec.js';
import { renderDomainXml } from '../../src/render/guest-files.js';
import { renderQemuXml } from '../../src/render/libvirt-xml.js';
import { inventory } from '../support/model.js';

const tmp = mkdtempSync(join(tmpdir(), 'xenroot-enums-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** virt-xml-validate's verdict on `xml` as a domain: '' when valid, else what it said. */
async function domainProblem(xml: string): Promise<string> {
  const file = join(tmp, `d${n++}.xml`);
  writeFileSync(file, xml);
  const r = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
  return r.exitCode === 0 ? '' : `${r.stderr}${r.stdout}`.trim() || `exit ${r.exitCode}`;
}

/** The values of a field when it is an enumeration (under .optional() / .default()), else undefined. */
function enumValues(field: z.ZodType): readonly string[] | undefined {
  let t: z.ZodType = field;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
  return t instanceof z.ZodEnum ? (t.options as string[]) : undefined;
}

/** Every enum field of guests and images with its values: [section, field, values]. */
const ENUMS: [section: 'guests' | 'images', field: string, values: readonly string[]][] = (['guests', 'images'] as const).flatMap((section) =>
  Object.entries(FIELDS[section] as Record<string, z.ZodType>).flatMap(([field, schema]) => {
    const values = enumValues(schema);
    return values ? [[section, field, values] as [typeof section, string, readonly string[]]] : [];
  }),
);

const BASE_GUEST = { image: 'terminal', mac: '00:16:3e:12:34:56' };

describe('enumerated inventory values that reach libvirt XML', () => {
  it('the enumerations found in the schema include the lifecycle actions and the initrd builders', () => {
    expect(ENUMS.map(([s, f]) => `${s}.${f}`)).toEqual(expect.arrayContaining(['guests.onPoweroff', 'guests.onReboot', 'guests.onCrash', 'guests.macSource', 'images.initrdBuilder']));
  });

  for (const [section, field, values] of ENUMS)
    for (const value of values)
      it(`${section}.${field}: ${value} renders a valid domain for every flavour (${DOMAIN_TARGETS.join(', ')}), or is refused at entry`, async () => {
        const guest = section === 'guests' ? { ...BASE_GUEST, [field]: value } : BASE_GUEST;
        const image = { root: '/srv/xenroot/terminal', kver: '6.1.0-28-amd64', ...(section === 'images' ? { [field]: value } : {}) };
        let inv;
        try {
          inv = inventory({ images: { terminal: image }, guests: { g: guest } });
        } catch {
          // Refused at entry: a value the schema lists but refuses would be a value no one can set.
          expect.fail(`${section}.${field}: ${value} is listed by the schema but refused with the rest of a valid guest`);
        }
        for (const target of DOMAIN_TARGETS) expect(await domainProblem(renderDomainXml(guestSpec(inv, 'g', target), target)), `${target} domain`).toBe('');
      });

  for (const target of BOOT_TARGETS)
    it(`boot target ${target}: its domain (or, for pxe, the PXE test domain) is valid`, async () => {
      const inv = inventory({ guests: { g: BASE_GUEST } });
      const xml = (DOMAIN_TARGETS as readonly string[]).includes(target)
        ? renderDomainXml(guestSpec(inv, 'g', target as (typeof DOMAIN_TARGETS)[number]), target as (typeof DOMAIN_TARGETS)[number])
        : renderQemuXml(guestSpec(inv, 'g', 'qemu'), { pxe: { tftpRoot: '/srv/tftp', bootfile: 'pxelinux.0' } });
      expect(await domainProblem(xml)).toBe('');
    });

  it('the coredump actions are refused at entry on power-off and reboot (libvirt takes them for a crash only)', () => {
    for (const field of ['onPoweroff', 'onReboot'] as const)
      for (const value of ['coredump-destroy', 'coredump-restart']) {
        const r = GuestSchema.safeParse({ ...BASE_GUEST, [field]: value });
        expect(r.success, `${field}: ${value}`).toBe(false);
        expect(r.error?.issues[0]?.message).toMatch(/coredump actions are for onCrash only/);
      }
    expect(GuestSchema.safeParse({ ...BASE_GUEST, onCrash: 'coredump-restart' }).success).toBe(true);
  });
});
