import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readCpio, writeCpio, type CpioEntry } from '../../src/initrd/cpio.js';
import { moduleName, resolveModules, type ModuleIndex } from '../../src/initrd/modules.js';
import { InitrdError } from '../../src/sys/errors.js';

describe('newc cpio writer', () => {
  it('round-trips files, directories, symlinks and device nodes through the reader', () => {
    const entries: CpioEntry[] = [
      { type: 'file', path: '/init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: 'lib/modules/k/a.ko', data: Buffer.alloc(13, 7) },
    ];
    const { members, end } = readCpio(writeCpio(entries));
    expect(end % 4).toBe(0);
    expect(members.map((m) => `${m.type}:${m.path}`)).toEqual([
      'dir:bin', 'symlink:bin/sh', 'dir:dev', 'char:dev/console', 'file:init', 'dir:lib', 'dir:lib/modules', 'dir:lib/modules/k', 'file:lib/modules/k/a.ko',
    ]);
    expect(members.find((m) => m.path === 'init')?.mode).toBe(0o755);
    expect(members.find((m) => m.path === 'bin/sh')?.data?.toString()).toBe('busybox');
    expect(members.find((m) => m.path === 'lib/modules/k/a.ko')?.data).toEqual(Buffer.alloc(13, 7));
  });

  it('gives the same bytes whatever the input order (sorted entries, fixed mtime, uid/gid 0)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}(\/[a-z]{1,3}){0,2}$/), { minLength: 1, maxLength: 12 }), (paths) => {
        // Keep only paths that are not a prefix directory of another (a path is a file here).
        const files = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}/`)));
        const entries: CpioEntry[] = files.map((p) => ({ type: 'file', path: p, data: Buffer.from(p) }));
        const a = writeCpio(entries);
        const b = writeCpio([...entries].reverse());
        expect(a.equals(b)).toBe(true);
        for (const m of readCpio(a).members) {
          if (m.type === 'dir') continue;
          expect(m.data?.toString()).toBe(m.path);
        }
      }),
    );
  });

  it('refuses a path listed twice and paths with ..', () => {
    expect(() => writeCpio([{ type: 'dir', path: 'a' }, { type: 'dir', path: '/a/' }])).toThrow(InitrdError);
    expect(() => writeCpio([{ type: 'dir', path: 'a/../b' }])).toThrow(/'\.\.'/);
  });
});

describe('module resolution through modules.dep', () => {
  const index: ModuleIndex = {
    modulesDir: '/lib/modules/test',
    paths: new Map([
      ['virtio_net', 'kernel/drivers/net/virtio_net.ko'],
      ['virtio', 'kernel/drivers/virtio/virtio.ko.xz'],
      ['virtio_ring', 'kernel/drivers/virtio/virtio_ring.ko'],
      ['net_failover', 'kernel/drivers/net/net_failover.ko'],
      ['failover', 'kernel/net/core/failover.ko'],
      ['xen_netfront', 'kernel/drivers/net/xen-netfront.ko'],
    ]),
    deps: new Map([
      ['virtio_net', ['net_failover', 'failover', 'virtio', 'virtio_ring']],
      ['net_failover', ['failover']],
      ['virtio', ['virtio_ring']],
    ]),
    builtin: new Set(['unix']),
    aliases: new Map([['xennet', ['xen_netfront']]]),
  };

  it('orders every module after its dependencies', () => {
    const names = resolveModules(index, ['virtio_net']).modules.map((m) => m.name);
    expect(names).toHaveLength(5);
    expect(names[names.length - 1]).toBe('virtio_net');
    expect(names.indexOf('virtio_ring')).toBeLessThan(names.indexOf('virtio'));
    expect(names.indexOf('failover')).toBeLessThan(names.indexOf('net_failover'));
  });

  it('accepts dashes, aliases (xennet) and built-in modules, and names what is missing', () => {
    expect(resolveModules(index, ['xen-netfront']).modules.map((m) => m.name)).toEqual(['xen_netfront']);
    expect(resolveModules(index, ['xennet']).modules.map((m) => m.name)).toEqual(['xen_netfront']);
    expect(resolveModules(index, ['unix'])).toEqual({ modules: [], builtin: ['unix'] });
    expect(() => resolveModules(index, ['e1000'])).toThrow(/module e1000 is not in \/lib\/modules\/test/);
    expect(resolveModules(index, ['e1000'], ['e1000']).modules).toEqual([]);
    expect(moduleName('kernel/fs/nfs/nfsv4.ko.zst')).toBe('nfsv4');
  });
});
