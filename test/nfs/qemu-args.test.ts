// The QEMU harness's command line (pure): TCG, no graphics, no reboot, user networking, PXE mode.
import { describe, expect, it } from 'vitest';
import { qemuArgs } from '../support/qemu.js';

describe('qemuArgs', () => {
  it('direct kernel boot: TCG, no graphics, no reboot, user net, and no option ROM to wait for', () => {
    const a = qemuArgs({ kernel: '/k', initrd: '/i', append: 'console=ttyS0', mac: '52:54:00:12:34:56' });
    expect(a.slice(0, 5)).toEqual(['-accel', 'tcg', '-nographic', '-no-reboot', '-m']);
    expect(a).toContain('512');
    expect(a[a.indexOf('-netdev') + 1]).toBe('user,id=n0');
    expect(a[a.indexOf('-device') + 1]).toBe('virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile=');
    expect(a).not.toContain('-boot');
    expect(a.slice(a.indexOf('-kernel'))).toEqual(['-kernel', '/k', '-initrd', '/i', '-append', 'console=ttyS0 no_timer_check']);
  });

  it('the serial console goes to a file when one is given (QEMU drops characters a slow pipe does not take)', () => {
    const a = qemuArgs({ kernel: '/k', serialFile: '/w/console.log' });
    expect(a.slice(0, 10)).toEqual(['-accel', 'tcg', '-display', 'none', '-monitor', 'none', '-serial', 'file:/w/console.log', '-no-reboot', '-m']);
    expect(a).not.toContain('-nographic');
  });

  it('PXE: -boot n, the iPXE ROM kept, QEMU TFTP serving the tree with the boot file', () => {
    const a = qemuArgs({ pxe: { tftp: '/srv/tftp', bootfile: 'pxelinux.0' }, nic: 'e1000', memory: 256 });
    expect(a[a.indexOf('-netdev') + 1]).toBe('user,id=n0,tftp=/srv/tftp,bootfile=pxelinux.0');
    expect(a[a.indexOf('-device') + 1]).toBe('e1000,netdev=n0');
    expect(a.slice(a.indexOf('-boot'), a.indexOf('-boot') + 2)).toEqual(['-boot', 'n']);
    expect(a[a.indexOf('-m') + 1]).toBe('256');
    expect(a).not.toContain('-kernel');
  });
});
