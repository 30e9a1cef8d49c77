import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderGuest, type GuestFormat } from '../../src/render/guest-files.js';
import { inventory } from '../support/model.js';

const GOLDEN = fileURLToPath(new URL('../golden/', import.meta.url));
const UPDATE = !!process.env.XENROOT_UPDATE_GOLDEN;

// Each case: one inventory, one guest; rendered in all three formats and compared with
// test/golden/<case>.<ext>. Regenerate on purpose with `npm run golden:update`, then review the diff.
const cases: Record<string, Parameters<typeof inventory>[0]> = {
  'unpinned': { guests: { Terminal: { image: 'terminal', memory: 256 } } },
  'pinned': { guests: { Terminal: { image: 'terminal', memory: 512, vcpus: 2, mac: '00:16:3E:12:34:56', macSource: 'given' } } },
  'nfs3-options-maxmem': {
    site: { nfsServer: 'nfs.lab.example', nfsVersion: 3, nfsOptions: 'tcp,nolock', bridge: 'br-lab', bootDir: '/boot/xen' },
    images: { lab: { root: '/srv/images/lab', export: '/exports/lab', kver: '5.10.0-30-amd64', append: 'quiet' } },
    guests: { 'lab-01': { image: 'lab', memory: 1024, maxmem: 2048, append: 'systemd.unit=multi-user.target', onReboot: 'destroy', onCrash: 'preserve' } },
  },
};

const exts: Record<GuestFormat, string> = { xl: 'cfg', libvirt: 'xml', qemu: 'qemu.xml' };

describe('golden files', () => {
  for (const [name, model] of Object.entries(cases)) {
    for (const format of Object.keys(exts) as GuestFormat[]) {
      it(`renders ${name} as ${format} exactly as test/golden/${name}.${exts[format]}`, () => {
        const inv = inventory(model);
        const guest = Object.keys(inv.guests)[0]!;
        const text = renderGuest(inv, guest, format);
        const file = join(GOLDEN, `${name}.${exts[format]}`);
        // Only an explicit update writes a golden file: a missing one fails (a test must not make its own answer).
        if (UPDATE) writeFileSync(file, text);
        expect(existsSync(file), `${file} is missing: run \`npm run golden:update\` and review it`).toBe(true);
        expect(text).toBe(readFileSync(file, 'utf8'));
      });
    }
  }
});

describe('libvirt schema', () => {
  for (const [name, model] of Object.entries(cases)) {
    for (const format of ['libvirt', 'qemu'] as const) {
      it(`${name} as ${format} passes virt-xml-validate`, async () => {
        const inv = inventory(model);
        const dir = mkdtempSync(join(tmpdir(), 'xenroot-xml-'));
        const file = join(dir, 'domain.xml');
        writeFileSync(file, renderGuest(inv, Object.keys(inv.guests)[0]!, format));
        const r = await execa('virt-xml-validate', [file, 'domain'], { reject: false });
        rmSync(dir, { recursive: true, force: true });
        expect(r.stderr + r.stdout).toContain('validates');
        expect(r.exitCode).toBe(0);
      });
    }
  }
});
