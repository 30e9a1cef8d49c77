// How an interactive console ended: a crashed guest is a typed error (exit code 5 through the CLI's
// error boundary), not an exit code set by hand.
import { describe, expect, it } from 'vitest';
import { printAttachOutcome } from '../../src/cli/console.js';
import { ExitCode, HypervisorError } from '../../src/sys/errors.js';

describe('console outcome', () => {
  it('throws a HypervisorError naming the guest when it crashed, and leaves process.exitCode alone', () => {
    const before = process.exitCode;
    let err: unknown;
    try {
      printAttachOutcome('web1', { outcome: 'crashed', state: 'crashed', exitCode: undefined });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HypervisorError);
    expect((err as HypervisorError).exitCode).toBe(ExitCode.hypervisor);
    expect((err as Error).message).toBe('web1 crashed');
    expect(process.exitCode).toBe(before);
  });

  it('returns normally when the guest shut down', () => {
    expect(() => printAttachOutcome('web1', { outcome: 'shutdown', state: 'shutoff', exitCode: undefined })).not.toThrow();
  });
});
