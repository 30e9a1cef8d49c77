import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { addClient } from '../../src/ops/clients.js';
import { addGroup } from '../../src/ops/groups.js';
import { createGuest } from '../../src/ops/create-guest.js';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { XENROOT, xenroot } from '../support/cli.js';

let site: SyncSite;
let env: Record<string, string>;
beforeAll(async () => {
  site = await makeSite();
  await addGroup(site.inventory, 'lab', { image: 'terminal' });
  await addClient(site.inventory, { mac: '52:54:00:c0:00:01', name: 'lab-01', group: 'lab' });
  await addClient(site.inventory, { mac: '52:54:00:c0:00:02', name: 'pc-2' });
  await createGuest(site.inventory, { name: 'Terminal', image: 'terminal' });
  // The script calls `xenroot` from PATH: a shim running the built CLI.
  const bin = join(site.dir, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'xenroot'), `#!/bin/sh\nexec node ${XENROOT} "$@"\n`);
  await chmod(join(bin, 'xenroot'), 0o755);
  env = { PATH: `${bin}:${process.env.PATH}`, XENROOT_INVENTORY: site.inventory };
});
afterAll(() => site.cleanup());

const CASES: [string[], string][] = [
  [['xenroot', 'cl'], 'client'],
  [['xenroot', 'client', 's'], 'show set'],
  [['xenroot', 'client', 'show', ''], 'lab-01 pc-2'],
  [['xenroot', 'client', 'remove', 'lab-01', 'p'], 'pc-2'],
  [['xenroot', 'client', 'add', 'x', '--gr'], '--group'],
  [['xenroot', 'client', 'add', 'x', '--group', ''], 'lab'],
  [['xenroot', 'create', 'T', '--image', ''], 'terminal'],
  [['xenroot', '--json', 'show', ''], 'Terminal'],
  [['xenroot', 'group', 'show', ''], 'lab'],
  [['xenroot', 'image', 'show', ''], 'terminal'],
  [['xenroot', 'sync', '--dr'], '--dry-run'],
];

/** Runs the completion function in `shell` for each case; returns each COMPREPLY. */
async function complete(shell: 'bash' | 'zsh'): Promise<string[]> {
  const script = await xenroot(['completion', shell]);
  expect(script.code, script.stderr).toBe(0);
  const file = join(site.dir, `completion.${shell}`);
  await writeFile(file, script.stdout);
  const calls = CASES.map(([words]) => `t ${words.map((w) => `'${w}'`).join(' ')}`).join('\n');
  const harness = `source ${file}\n${shell === 'zsh' ? 'setopt ksharrays\n' : ''}t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _xenroot; echo "\${COMPREPLY[*]}"; }\n${calls}\n`;
  const r = await execa(shell, shell === 'zsh' ? ['-f', '-c', harness] : ['-c', harness], { env, reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout.split('\n');
}

describe('shell completion', () => {
  it('bash completes commands, options, and names of clients, guests, images and groups from the inventory', async () => {
    expect(await complete('bash')).toEqual(CASES.map(([, want]) => want));
  });

  it('zsh does the same through bashcompinit', async () => {
    expect(await complete('zsh')).toEqual(CASES.map(([, want]) => want));
  });

  it('the hidden __complete lists names one per line, and an unknown shell or kind is a usage error', async () => {
    const r = await xenroot(['__complete', 'clients'], { env });
    expect(r.stdout.split('\n')).toEqual(['lab-01', 'pc-2']);
    expect((await xenroot(['completion', 'fish'])).code).toBe(2);
    expect((await xenroot(['__complete', 'things'], { env })).code).toBe(2);
    expect((await xenroot(['--help'])).stdout).not.toContain('__complete');
  });
});
