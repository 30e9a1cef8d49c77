/** Options shared by the hypervisor commands (start, stop, status, define, undefine, console). */
import { DOMAIN_TARGETS, type DomainTarget } from '../inventory/constants.js';
import { modelChoice } from './options.js';
import type { CliContext } from './context.js';

/** `--target`: the domain flavour, one of the inventory's domain targets (exit 3 otherwise). */
export const TARGET = {
  target: modelChoice('--target <target>', 'domain flavour: xen (PV) or qemu (test domain); default: from the URI scheme', DOMAIN_TARGETS),
};

/** --connect (global, also accepted after the command) and --target as HostOptions. */
export function hostOptions(ctx: CliContext, o: { target?: DomainTarget }): { connect?: string; target?: DomainTarget } {
  return { ...(ctx.options.connect ? { connect: ctx.options.connect } : {}), ...(o.target ? { target: o.target } : {}) };
}
