// Errors say what is accepted, in the terms of the file: unknown keys name the known ones (and the
// closest), a bad entry name gives the rule, a missing value says it is missing.
import { describe, expect, it } from 'vitest';
import { parseInventoryText } from '../../src/ops/steps/store.js';
import { closestKey } from '../../src/inventory/issues.js';

const F = '/etc/xenroot/inventory.yaml';
const msg = (text: string): string => {
  try {
    parseInventoryText(text, F);
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};
const IMG = 'images:\n  t:\n    root: /srv/t\n    kver: 6.1.0-28-amd64\n';

describe('inventory messages', () => {
  it('a misspelt key is reported as unknown, with the key it is closest to and the known keys, not as a missing one', () => {
    const m = msg(`site:\n  nfsserver: 10.0.2.2\n${IMG}guests:\nclients:\n`);
    expect(m).toContain(`${F}: site: unknown key "nfsserver" (did you mean nfsServer?); known keys: nfsServer, exportRoot`);
    expect(m).not.toContain('must be a string');
  });

  it('an unknown key inside an entry names the entry and its known keys', () => {
    const m = msg(`site:\n  nfsServer: 10.0.2.2\n${IMG}guests:\n  g:\n    image: t\n    memroy: 256\nclients:\n`);
    expect(m).toContain('guests.g: unknown key "memroy" (did you mean memory?); known keys: image, memory');
  });

  it('a bad entry name gives the naming rule, not "Invalid key in record"', () => {
    const m = msg(`site:\n  nfsServer: 10.0.2.2\nimages:\n  "../x":\n    root: /srv/t\n    kver: 6.1.0-28-amd64\nguests:\nclients:\n`);
    expect(m).toContain('images: entry name "../x" is not valid: must be 1-63 characters');
    expect(m).not.toContain('Invalid key in record');
  });

  it('a missing required value says it is missing and what it must be', () => {
    expect(msg(`site:\n  allow: []\n${IMG}guests:\nclients:\n`)).toContain('site.nfsServer: is missing (required)');
  });

  it('closestKey matches case first, then near spellings, else nothing', () => {
    expect(closestKey('NFSSERVER', ['nfsServer', 'bridge'])).toBe('nfsServer');
    expect(closestKey('brigde', ['nfsServer', 'bridge'])).toBe('bridge');
    expect(closestKey('zzzzzz', ['nfsServer', 'bridge'])).toBeUndefined();
  });
});
