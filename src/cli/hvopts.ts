/** Options shared by the hypervisor commands (start, stop, status, define, undefine, console). */
import type { Command } from 'commander';
import { UsageError } from '../sys/errors.js';
import { DOMAIN_TARGETS, type DomainTarget } from '../inventory/constants.js';
import { choiceOption, type CliContext } from './context.js';

export type TargetFlag = DomainTarget;

export function targetOption(cmd: Command): Command {
  return cmd.option('--target <target>', 'domain flavour: xen (PV) or qemu (test domain); default: from the URI scheme', choiceOption('--target', DOMAIN_TARGETS));
}

/** --connect (global, also accepted after the command) and --target as HostOptions. */
export function hostOptions(ctx: CliContext, o: { target?: TargetFlag }): { connect?: string; target?: TargetFlag } {
  return { ...(ctx.options.connect ? { connect: ctx.options.connect } : {}), ...(o.target ? { target: o.target } : {}) };
}

/** Seconds (whole or fractional, > 0) to milliseconds. */
export function secondsOption(flag: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > 86_400)
      throw new UsageError(`${flag} "${value}" is not valid: must be a number of seconds from 0.1 to 86400`);
    return Math.round(Number(value) * 1000);
  };
}
