// The ganesha config renderer is pure: these pin its security-relevant lines.
import { describe, expect, it } from 'vitest';
import { RenderError } from '../../src/sys/errors.js';
import { renderGaneshaConfig, type GaneshaConfigInput } from '../../src/render/ganesha.js';

const base: GaneshaConfigInput = {
  bindAddr: '127.0.0.1',
  port: 2049,
  recoveryDir: '/tmp/w/recov',
  exports: [
    { id: 1, path: '/srv/images/terminal', pseudo: '/export', access: 'RO' },
    { id: 2, path: '/srv/proof dir', pseudo: '/export2', access: 'RW' },
  ],
};

describe('renderGaneshaConfig', () => {
  it('binds loopback only, NFSv4 over TCP only, no NLM/RQUOTA/UDP, graceless, with a private recovery dir', () => {
    const text = renderGaneshaConfig(base);
    expect(text).toContain('Bind_addr = 127.0.0.1;');
    expect(text).toContain('NFS_Port = 2049;');
    expect(text).toMatch(/NFS_CORE_PARAM \{[^}]*Protocols = 4;[^}]*Enable_NLM = false;[^}]*Enable_RQUOTA = false;[^}]*Enable_UDP = false;/);
    expect(text).toMatch(/NFSV4 \{[^}]*Graceless = true;[^}]*RecoveryRoot = "\/tmp\/w\/recov";/);
    expect(text).not.toMatch(/Protocols = [^4]/);
  });

  it('writes one EXPORT block per export with quoted paths, access type and No_Root_Squash', () => {
    const text = renderGaneshaConfig(base);
    const blocks = text.split('EXPORT {').slice(1);
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toContain('Path = "/srv/images/terminal";');
    expect(blocks[0]).toContain('Pseudo = "/export";');
    expect(blocks[0]).toContain('Access_Type = RO;');
    expect(blocks[1]).toContain('Path = "/srv/proof dir";');
    expect(blocks[1]).toContain('Access_Type = RW;');
    for (const b of blocks) {
      expect(b).toContain('Squash = No_Root_Squash;');
      expect(b).toContain('Transports = TCP;');
      expect(b).toContain('FSAL { Name = VFS; }');
    }
  });

  it('refuses a non-loopback bind address', () => {
    for (const addr of ['0.0.0.0', '10.0.2.2', '192.168.1.1', '::', '127.0.0.256']) {
      expect(() => renderGaneshaConfig({ ...base, bindAddr: addr })).toThrow(RenderError);
    }
    expect(renderGaneshaConfig({ ...base, bindAddr: '127.0.0.2' })).toContain('Bind_addr = 127.0.0.2;');
  });

  it('refuses values that could break out of the config syntax or are ambiguous', () => {
    const bad: [string, GaneshaConfigInput][] = [
      ['quote in path', { ...base, exports: [{ id: 1, path: '/srv/a"; Access_Type = RW; "', pseudo: '/export', access: 'RO' }] }],
      ['newline in path', { ...base, exports: [{ id: 1, path: '/srv/a\nEXPORT', pseudo: '/export', access: 'RO' }] }],
      ['relative path', { ...base, exports: [{ id: 1, path: 'srv/a', pseudo: '/export', access: 'RO' }] }],
      ['dotdot path', { ...base, exports: [{ id: 1, path: '/srv/../etc', pseudo: '/export', access: 'RO' }] }],
      ['root pseudo', { ...base, exports: [{ id: 1, path: '/srv/a', pseudo: '/', access: 'RO' }] }],
      ['duplicate pseudo', { ...base, exports: [{ id: 1, path: '/a', pseudo: '/e', access: 'RO' }, { id: 2, path: '/b', pseudo: '/e', access: 'RO' }] }],
      ['duplicate id', { ...base, exports: [{ id: 1, path: '/a', pseudo: '/e', access: 'RO' }, { id: 1, path: '/b', pseudo: '/f', access: 'RO' }] }],
      ['no export', { ...base, exports: [] }],
      ['port 0', { ...base, port: 0 }],
      ['port 70000', { ...base, port: 70000 }],
    ];
    for (const [name, input] of bad) expect(() => renderGaneshaConfig(input), name).toThrow(RenderError);
  });

  it('serves v3 only on request and leaves Bind_addr out only for a private network namespace', () => {
    const v3 = renderGaneshaConfig({ ...base, versions: [4, 3], bindAllInNetns: true });
    expect(v3).toMatch(/NFS_CORE_PARAM \{[^}]*Protocols = 3,4;/);
    expect(v3).not.toContain('Bind_addr');
    expect(v3.split('EXPORT {').slice(1).every((b) => b.includes('Protocols = 3,4;'))).toBe(true);
    expect(() => renderGaneshaConfig({ ...base, versions: [] })).toThrow(RenderError);
    expect(() => renderGaneshaConfig({ ...base, versions: [2 as 3] })).toThrow(RenderError);
  });
});
