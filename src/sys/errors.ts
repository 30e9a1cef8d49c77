/**
 * The error hierarchy. Every failure a user can cause or meet is one of these: it carries an
 * exit code and, where there is one, a hint saying what would be accepted or what to do.
 * The CLI entry (src/cli/main.ts) is the only place that catches them and the only place that
 * exits; core code throws.
 */
export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  inventory: 3,
  render: 4,
  hypervisor: 5,
  image: 6,
  initrd: 7,
  deploy: 8,
  testFailed: 9,
  dependency: 10,
  timeout: 11,
  interrupted: 130,
} as const;

export abstract class XenrootError extends Error {
  abstract readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** Bad flags or argument values on the command line. */
export class UsageError extends XenrootError {
  readonly exitCode = ExitCode.usage;
}

/** The inventory file is missing, unparsable, invalid, or a named entry does not exist / conflicts. */
export class InventoryError extends XenrootError {
  readonly exitCode = ExitCode.inventory;
}

/** A value cannot be represented safely in a generated file (xl cfg, XML, pxelinux, ...). */
export class RenderError extends XenrootError {
  readonly exitCode = ExitCode.render;
}

/** libvirt or xl failed, or the hypervisor cannot be reached. */
export class HypervisorError extends XenrootError {
  readonly exitCode = ExitCode.hypervisor;
}

/** Mounting or reading an image failed. */
export class ImageError extends XenrootError {
  readonly exitCode = ExitCode.image;
}

/** Building or reading an initrd failed. */
export class InitrdError extends XenrootError {
  readonly exitCode = ExitCode.initrd;
}

/** Applying generated files to disk or reloading a service failed. */
export class DeployError extends XenrootError {
  readonly exitCode = ExitCode.deploy;
}

/** `xenroot test` or `console --expect` did not see what it waited for. */
export class TestFailedError extends XenrootError {
  readonly exitCode = ExitCode.testFailed;
}

/** A host program or package the operation needs is missing. */
export class DependencyError extends XenrootError {
  readonly exitCode = ExitCode.dependency;
}

/** An operation did not finish within its time limit. */
export class TimeoutError extends XenrootError {
  readonly exitCode = ExitCode.timeout;
}

/** SIGINT/SIGTERM arrived; whatever was in progress was unwound. */
export class InterruptedError extends XenrootError {
  readonly exitCode = ExitCode.interrupted;
}

export function isXenrootError(err: unknown): err is XenrootError {
  return err instanceof XenrootError;
}
