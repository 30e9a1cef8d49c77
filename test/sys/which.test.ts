// Program lookup: one definition (sys/which.ts) that every caller uses, searching $PATH and then
// the sbin directories where daemons and admin tools live.
import { afterEach, describe, expect, it } from 'vitest';
import { which } from '../../src/sys/which.js';

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('program lookup', () => {
  it('finds exportfs in /usr/sbin when $PATH holds no sbin directory', () => {
    process.env.PATH = '/usr/bin:/bin';
    expect(which('exportfs')).toBe('/usr/sbin/exportfs');
  });

  it('answers undefined for a program that is nowhere', () => {
    expect(which('xenroot-no-such-program')).toBeUndefined();
  });
});
