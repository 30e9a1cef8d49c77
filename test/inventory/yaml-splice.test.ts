import { describe, expect, it } from 'vitest';
import jsyaml from 'js-yaml';
import { spliceEdits } from '../../src/inventory/yaml-splice.js';
import { parseInventoryText } from '../../src/ops/steps/store.js';

const text = `# top comment
site:
  nfsServer: 10.0.2.2 # the server
  allow: [ 10.0.2.0/24 ]
images:
  terminal:
    root: /srv/t
    kver: 6.1.0-28-amd64
# guests below
guests:
  # the first one
  a:
    image: terminal
    memory: 256 # enough
  b:
    image: terminal
clients:
`;

describe('fast YAML splice', () => {
  it('appends a new entry at the end of its section, leaving every other line as it was', () => {
    const out = spliceEdits(text, [{ kind: 'set', path: ['guests', 'c'], value: { image: 'terminal', memory: 128 } }])!;
    expect(out).toBe(text.replace('    image: terminal\nclients:', '    image: terminal\n  c:\n    image: terminal\n    memory: 128\nclients:'));
  });

  it('sets a key inside an entry, keeping the entry\'s comments', () => {
    const out = spliceEdits(text, [{ kind: 'set', path: ['guests', 'a', 'mac'], value: '00:16:3e:00:00:01' }])!;
    expect(out).toContain('  # the first one\n  a:\n    image: terminal\n    memory: 256 # enough\n    mac: 00:16:3e:00:00:01\n  b:');
  });

  it('sets and deletes scalar fields of 2,000 entries one line each, every other line (comments included) kept', () => {
    const head = '# fleet\nclients:\n';
    const entry = (i: number, rev: string) => `  pc${i}:\n    # the desk by the window\n    mac: 52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}\n${rev}`;
    const fleet = head + Array.from({ length: 2000 }, (_, i) => entry(i, i % 2 ? '    revision: 1\n    previousRevision: 3\n' : '    revision: 1\n')).join('');
    const ops = Array.from({ length: 2000 }, (_, i) => [
      { kind: 'set' as const, path: ['clients', `pc${i}`, 'revision'], value: 2 },
      i % 4 === 1 ? { kind: 'delete' as const, path: ['clients', `pc${i}`, 'previousRevision'] } : { kind: 'set' as const, path: ['clients', `pc${i}`, 'previousRevision'], value: 1 },
    ]).flat();
    const out = spliceEdits(fleet, ops)!;
    const want = head + Array.from({ length: 2000 }, (_, i) => entry(i, i % 4 === 1 ? '    revision: 2\n' : '    revision: 2\n    previousRevision: 1\n')).join('');
    expect(out).toBe(want);
  });

  it('replaces a field written over several lines whole, not just its first line', () => {
    const folded = text.replace('  b:\n    image: terminal\n', '  b:\n    image: terminal\n    append: >-\n      quiet\n      splash\n    memory: 64\n');
    const out = spliceEdits(folded, [{ kind: 'set', path: ['guests', 'b', 'append'], value: 'console=ttyS0' }])!;
    expect((jsyaml.load(out) as { guests: { b: unknown } }).guests.b).toEqual({ image: 'terminal', append: 'console=ttyS0', memory: 64 });
    expect(out).not.toContain('splash');
  });

  it('deletes an entry with the comment lines directly above it', () => {
    const out = spliceEdits(text, [{ kind: 'delete', path: ['guests', 'a'] }])!;
    expect(out).not.toContain('the first one');
    expect(out).toContain('# guests below\nguests:\n  b:\n');
  });

  it('adds the first entry to an empty section', () => {
    const out = spliceEdits(text, [{ kind: 'set', path: ['clients', 'pc1'], value: { mac: '00:16:3e:00:00:09', image: 'terminal' } }])!;
    expect(jsyaml.load(out)).toMatchObject({ clients: { pc1: { mac: '00:16:3e:00:00:09' } } });
  });

  it('refuses text it does not recognise (anchors, flow sections) so the full path takes over', () => {
    expect(spliceEdits(text.replace('  b:\n    image: terminal', '  b: &x\n    image: terminal'), [{ kind: 'delete', path: ['guests', 'a'] }])).toBeUndefined();
    expect(spliceEdits('site: {}\nguests: { a: { image: t } }\n', [{ kind: 'set', path: ['guests', 'b'], value: { image: 't' } }])).toBeUndefined();
  });

  it('the store falls back to the full Document for flow-style sections and still keeps comments', () => {
    const flow = '# keep\nsite: { nfsServer: 10.0.2.2 }\nimages: { t: { root: /srv/t, kver: 6.1.0-1-amd64 } } # imgs\nguests: {}\nclients: {}\n';
    const inv = parseInventoryText(flow, '/x/inventory.yaml');
    inv.set(['guests', 'g'], { image: 't' });
    inv.revalidate();
    expect(inv.data.guests.g?.image).toBe('t');
    expect(inv.toString()).toContain('# keep');
    expect(inv.toString()).toContain('# imgs');
  });
});
