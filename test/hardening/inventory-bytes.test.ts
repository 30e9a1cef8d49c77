// The inventory keeps bytes it does not own, refuses what is not text, and names are looked up
// as own entries only (a name such as "constructor" is an entry or nothing).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';

let dir: string;
let inv: string;
const run = (...args: string[]) => xenroot(['--inventory', inv, ...args]);

const BASE = [
  '# site of the hardening tests',
  'site:',
  '  nfsServer: 10.0.2.2',
  '  allow: [ 10.0.2.0/24 ]',
  'images:',
  '  terminal:',
  '    root: /srv/xenroot/terminal',
  '    kver: 6.1.0-28-amd64',
  'guests:',
  'clients:',
  '',
];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xenroot-bytes-'));
  inv = join(dir, 'inventory.yaml');
});

describe('inventory bytes', () => {
  it('refuses a file that is not valid UTF-8, naming the line, and never rewrites it', async () => {
    const bytes = Buffer.concat([Buffer.from(BASE.slice(0, 2).join('\n') + '\n'), Buffer.from('  # caf\xe9 = latin1\n', 'latin1'), Buffer.from(BASE.slice(2).join('\n'))]);
    writeFileSync(inv, bytes);
    const r = await run('create', 'g', '--image', 'terminal');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${inv}:3: the inventory is not valid UTF-8 (byte 0xe9)`);
    expect(readFileSync(inv).equals(bytes)).toBe(true);
  });

  it('keeps CRLF line ends, a byte-order mark and every comment through writes', async () => {
    const text = '\ufeff' + BASE.join('\r\n');
    writeFileSync(inv, text);
    expect((await run('create', 'g1', '--image', 'terminal', '--mac', 'auto')).code).toBe(0);
    expect((await run('client', 'add', '00:16:3e:00:00:0a', '--name', 'pc1')).code).toBe(0);
    expect((await run('client', 'set', 'pc1', '--append', 'quiet')).code).toBe(0);
    const after = readFileSync(inv, 'utf8');
    expect(after.startsWith('\ufeff# site of the hardening tests\r\n')).toBe(true);
    expect(after.replace(/\r\n/g, '')).not.toContain('\n');
    expect(after).toContain('g1:');
    expect(after).toContain('append: quiet');
  });

  it('a value with U+FFFE (a noncharacter XML cannot carry) is refused the same way by client add and client set', async () => {
    writeFileSync(inv, BASE.join('\n'));
    const add = await run('client', 'add', '00:16:3e:00:00:0b', '--name', 'pc2', '--append', 'a\ufffeb');
    expect(add.code).toBe(3);
    expect(add.stderr).toContain('noncharacter U+FFFE');
    expect((await run('client', 'add', '00:16:3e:00:00:0b', '--name', 'pc2')).code).toBe(0);
    const set = await run('client', 'set', 'pc2', '--append', 'a\ufffeb');
    expect(set.code).toBe(3);
    expect(set.stderr).toContain('noncharacter U+FFFE');
  });
});

describe('names that are JavaScript built-ins', () => {
  it('are entries or nothing: remove constructor, image remove hasOwnProperty, client add --image toString', async () => {
    writeFileSync(inv, BASE.join('\n'));
    const rm = await run('remove', 'constructor');
    expect(rm.code).toBe(3);
    expect(rm.stderr).toContain('no guest named "constructor"');
    const ri = await run('image', 'remove', 'hasOwnProperty');
    expect(ri.code).toBe(3);
    expect(ri.stderr).toContain('no image named "hasOwnProperty"');
    const ca = await run('client', 'add', '00:16:3e:00:00:0c', '--image', 'toString');
    expect(ca.code).toBe(3);
    expect(ca.stderr).toContain('image "toString" is not in the inventory');
  });

  it('an inventory whose guest names image "constructor" does not validate', async () => {
    writeFileSync(inv, BASE.join('\n').replace('guests:', 'guests:\n  g:\n    image: constructor'));
    const r = await run('list');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('guests.g.image: names image "constructor", which is not in images');
  });

  it('an entry named __proto__ in the file is refused with the naming rule, not dropped without a word', async () => {
    writeFileSync(inv, BASE.join('\n').replace('guests:', 'guests:\n  __proto__:\n    image: terminal'));
    const r = await run('list');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('guests: entry name "__proto__" is not valid');
  });

  it('a guest may be named constructor and is found as itself', async () => {
    writeFileSync(inv, BASE.join('\n'));
    expect((await run('create', 'constructor', '--image', 'terminal')).code).toBe(0);
    const show = await run('--json', 'show', 'constructor');
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'constructor', image: 'terminal' });
    expect((await run('remove', 'constructor')).code).toBe(0);
  });
});
