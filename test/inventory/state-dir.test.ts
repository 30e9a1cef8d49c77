import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INVENTORY, stateDir } from '../../src/inventory/paths.js';
import { XENROOT } from '../support/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the state directory of an inventory', () => {
  it('is state/ beside a scratch inventory, site.stateDir relative to the inventory when set, /var/lib/xenroot for the site inventory (root), $XENROOT_STATE_DIR above all', () => {
    expect(stateDir('/lab/demo/inventory.yaml', undefined, {})).toBe('/lab/demo/state');
    expect(stateDir('/lab/demo/inventory.yaml', {}, {})).toBe('/lab/demo/state');
    expect(stateDir('/lab/demo/inventory.yaml', { stateDir: '../var/xr' }, {})).toBe('/lab/var/xr');
    expect(stateDir('/lab/demo/inventory.yaml', { stateDir: '/srv/state' }, {})).toBe('/srv/state');
    expect(process.getuid?.()).toBe(0); // the suite runs as root (README), as the site's xenroot does
    expect(stateDir(DEFAULT_INVENTORY, undefined, {})).toBe('/var/lib/xenroot');
    expect(stateDir(DEFAULT_INVENTORY, { stateDir: 'st' }, {})).toBe('/etc/xenroot/st');
    expect(stateDir(undefined, undefined, {})).toBe('/var/lib/xenroot');
    expect(stateDir('/lab/demo/inventory.yaml', { stateDir: 'st' }, { XENROOT_STATE_DIR: '/tmp/x' })).toBe('/tmp/x');
  });

  it('a command on a scratch inventory, with no $XENROOT_STATE_DIR, keeps its model cache in state/ beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-state-beside-'));
    dirs.push(dir);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'XENROOT_STATE_DIR') env[k] = v;
    const inv = join(dir, 'inventory.yaml');
    const r = await execa('node', [XENROOT, '-i', inv, 'init', '--nfs-server', '10.0.2.2'], { env, extendEnv: false, reject: false });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const list = await execa('node', [XENROOT, '-i', inv, 'list'], { env, extendEnv: false, reject: false });
    expect(list.exitCode, String(list.stderr)).toBe(0);
    expect(readdirSync(join(dir, 'state', 'model')).filter((n) => n.endsWith('.json'))).toHaveLength(1);
  });
});
