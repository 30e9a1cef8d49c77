/**
 * Boot menus mean what the inventory says: for every command line the inventory accepts,
 * pxelinux/syslinux.efi, iPXE and GRUB hand the kernel exactly that command line, the image's
 * initrd then the node's, and the BOOTIF of the NIC that booted (fast-check properties, with an
 * independent reader of each format). A command line one of them would misread is refused by the
 * inventory for all of them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkKernelArgs } from '../../src/inventory/validate.js';
import { renderPxelinux, type BootEntry } from '../../src/render/pxelinux.js';
import { renderIpxeBoot, renderIpxeEntry } from '../../src/render/ipxe.js';
import { grubMacName, renderGrubDispatcher, renderGrubEntry } from '../../src/render/grub.js';
import { RenderError } from '../../src/sys/errors.js';
import { readGrub, readIpxe, readPxelinux } from '../support/bootmenu-parse.js';
import { FORMAT_RUNS } from '../support/runs.js';

const MAC = '52:54:00:aa:01:22';
const OTHER = '52:54:00:aa:01:a1';
const base = { label: 'terminal', kernel: 'images/terminal/vmlinuz-6.1.0-28-amd64-0123456789ab', initrd: 'images/terminal/initrd-6.1.0-28-amd64-pxe-0123456789ab.img', nodeInitrd: 'identity/node-pc1.cpio.gz' };

// Arguments made of characters an admin types, including iPXE's and GRUB's special ones.
const argChar = fc.constantFrom(...'abcz09=,._-:/$#{}|&;[]()*?!@%+~^<>'.split(''));
const arg = fc.array(argChar, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
const cmdline = fc.array(fc.oneof(arg, fc.constantFrom('||', '&&', ';', '#x', '${net0/mac}', 'console=ttyS0', 'quiet')), { minLength: 1, maxLength: 8 }).map((a) => `root=nfs4:10.0.2.2:/srv/t ro ${a.join(' ')}`);

describe('property: every accepted command line reaches the kernel unchanged through every loader', () => {
  it('pxelinux, iPXE (per-MAC and default, booted from the second NIC) and GRUB agree with the inventory', () => {
    let accepted = 0;
    fc.assert(
      fc.property(cmdline, (line) => {
        if (checkKernelArgs(line) !== undefined) return; // refused by the inventory for every loader
        accepted++;
        const entry: BootEntry = { ...base, cmdline: line };
        const want = line.split(' ');
        const bootif = `BOOTIF=01-${MAC.replace(/:/g, '-')}`;

        const px = readPxelinux(renderPxelinux({ entries: [entry] }), MAC);
        expect(px.args).toEqual([`initrd=${base.initrd},${base.nodeInitrd}`, ...want, bootif]);
        expect(px.initrds).toEqual([base.initrd, base.nodeInitrd]);

        // iPXE on a machine whose second NIC booted: net0 is the other NIC, netX the booting one.
        const settings = { 'net0/mac:hexhyp': OTHER.replace(/:/g, '-'), 'netX/mac:hexhyp': MAC.replace(/:/g, '-') };
        for (const script of [renderIpxeEntry(entry, { mac: MAC }), renderIpxeEntry(entry)]) {
          const ip = readIpxe(script, settings);
          expect(ip.kernel).toBe(`/${base.kernel}`);
          expect(ip.args).toEqual(['initrd=initrd-6.1.0-28-amd64-pxe-0123456789ab.img', 'initrd=node-pc1.cpio.gz', ...want, bootif]);
          expect(ip.initrds).toEqual([`/${base.initrd}`, `/${base.nodeInitrd}`]);
        }

        const gvars = { xr_mac: MAC.replace(/:/g, '-') };
        for (const cfg of [renderGrubEntry(entry, { mac: MAC }), renderGrubEntry(entry)]) {
          const g = readGrub(cfg, gvars);
          expect(g.args).toEqual([...want, bootif]);
          expect(g.initrds).toEqual([`/${base.initrd}`, `/${base.nodeInitrd}`]);
        }
      }),
      { numRuns: FORMAT_RUNS },
    );
    expect(accepted).toBeGreaterThan(100); // the property ran on accepted lines (about a fifth of the runs), not only refused ones
  });

  it('the inventory refuses what iPXE would misread: ${...}, a word starting with #, ||, && and ;', () => {
    expect(checkKernelArgs('foo=${net0/mac}')).toMatch(/iPXE replaces/);
    expect(checkKernelArgs('quiet #comment')).toMatch(/comment/);
    for (const w of ['||', '&&', ';']) expect(checkKernelArgs(`a ${w} b`)).toMatch(/ends a command/);
    expect(checkKernelArgs('a=$b c={d} e;f x#y')).toBeUndefined();
  });

  it('boot.ipxe chains the booting NIC\'s script: on a two-NIC machine booting from NIC 2, NIC 2\'s', () => {
    const text = renderIpxeBoot({ nodesDir: 'nodes' });
    const chain = /^chain --autofree (\S+)/m.exec(text)![1]!;
    expect(chain.replace('${netX/mac:hexhyp}', MAC.replace(/:/g, '-'))).toBe(`/nodes/${MAC.replace(/:/g, '-')}/ipxe`);
  });

  it('refuses a command line the kernel would truncate once the loader adds initrd= and BOOTIF=', () => {
    const long = `root=nfs4:10.0.2.2:/srv/t ${'x'.repeat(2000)}`;
    expect(checkKernelArgs(long)).toBeUndefined();
    expect(() => renderPxelinux({ entries: [{ ...base, cmdline: long }] })).toThrow(RenderError);
    expect(() => renderIpxeEntry({ ...base, cmdline: long })).toThrow(RenderError);
    expect(() => renderGrubEntry({ ...base, cmdline: long })).toThrow(RenderError);
  });

  it('GRUB: per-MAC file names as GRUB\'s netboot search asks for them; the dispatcher splits $net_default_mac', () => {
    expect(grubMacName('52:54:00:AA:01:22')).toBe('grub.cfg-01-52-54-00-aa-01-22');
    const d = renderGrubDispatcher();
    expect(d).toContain('source "$prefix/grub.cfg-01-$xr_mac"');
    expect(d).toContain('"$net_default_mac"');
    // An entry without a MAC of its own (the default one, or one shared by several machines) may be
    // loaded by GRUB's netboot search before the dispatcher ran: it splits $net_default_mac itself.
    const shared = renderGrubEntry({ ...base, cmdline: 'root=nfs4:10.0.2.2:/srv/t ro' });
    expect(shared.indexOf('"$net_default_mac"')).toBeGreaterThan(-1);
    expect(shared.indexOf('set xr_mac=')).toBeLessThan(shared.indexOf('menuentry'));
    expect(renderGrubEntry({ ...base, cmdline: 'root=nfs4:10.0.2.2:/srv/t ro' }, { mac: MAC })).not.toContain('$net_default_mac');
  });
});
