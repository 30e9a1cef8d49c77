/**
 * xl/xm domain configuration (.cfg) from a GuestSpec. Pure.
 *
 * The output is accepted by both toolstacks: xm read it as Python assignments, xl(1)'s
 * libxlu parser as `key = value` with quoted strings and [ ... ] lists. Only keys both know are
 * used (no xm-only nfs_server/nfs_root/dhcp: the NFS root is on the kernel command line).
 * Strings are single-quoted; a value that cannot sit inside single quotes unescaped in both
 * grammars (quote, backslash, control character) is refused, never emitted.
 */
import { RenderError } from '../sys/errors.js';
import { unsafeChar } from '../inventory/validate.js';
import type { GuestSpec } from './guest-spec.js';
import { generatedHeader } from './header.js';


function str(key: string, value: string): string {
  const bad = unsafeChar(value);
  if (bad) throw new RenderError(`${key} contains a ${bad}, which an xl/xm config cannot carry safely: ${JSON.stringify(value)}`);
  return `'${value}'`;
}

function vifValue(key: string, value: string): string {
  if (/[,=\s]/.test(value) || unsafeChar(value)) throw new RenderError(`vif ${key} "${value}" cannot be written into a vif spec (no ",", "=", space, quotes)`);
  return value;
}

/** One vif spec: `mac=..,bridge=..` (no mac= when none is pinned: xl then generates one). */
export function vifSpec(spec: Pick<GuestSpec, 'mac' | 'bridge'>): string {
  const parts: string[] = [];
  if (spec.mac) parts.push(`mac=${vifValue('mac', spec.mac)}`);
  parts.push(`bridge=${vifValue('bridge', spec.bridge)}`);
  return parts.join(',');
}

export function renderXlCfg(spec: GuestSpec): string {
  const lines = [
    generatedHeader('edit-inventory'),
    `name = ${str('name', spec.name)}`,
    `memory = ${spec.memory}`,
    `maxmem = ${spec.maxmem}`,
    `vcpus = ${spec.vcpus}`,
    `kernel = ${str('kernel', spec.kernel)}`,
    `ramdisk = ${str('ramdisk', spec.initrd)}`,
    `extra = ${str('extra', spec.cmdline)}`,
    `vif = [ ${str('vif', vifSpec(spec))} ]`,
    `on_poweroff = ${str('on_poweroff', spec.onPoweroff)}`,
    `on_reboot = ${str('on_reboot', spec.onReboot)}`,
    `on_crash = ${str('on_crash', spec.onCrash)}`,
  ];
  return lines.join('\n') + '\n';
}
