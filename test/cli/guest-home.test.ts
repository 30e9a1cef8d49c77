// Every file xenroot generates has one recorded home that every later regeneration and `remove`
// use: `create --out DIR` records DIR as the guest's configDir, so the first-boot MAC pin (here on
// libvirt's test driver), `mac --set` and `sync` rewrite DIR/NAME.cfg and DIR/NAME.xml, and
// `remove` deletes them there.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';
import { inventoryFixture } from '../hypervisor/fixture.js';

const fx = inventoryFixture({ connect: 'test:///default' });
afterAll(() => fx.cleanup());
const env = { XENROOT_STATE_DIR: join(fx.dir, 'state') };
const run = (...args: string[]) => xenroot(['--inventory', fx.file, ...args], { env });

describe('the one home of a guest\'s files', () => {
  it('create --out DIR, then a first start pins the MAC into the inventory, DIR/Terminal.cfg and DIR/Terminal.xml alike; remove deletes them in DIR', async () => {
    const out = mkdtempSync(join(tmpdir(), 'xenroot-out-'));
    const created = await run('--json', 'create', 'Terminal', '--image', 'tiny', '--memory', '256', '--out', out);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).files).toEqual({ cfg: join(out, 'Terminal.cfg'), xml: join(out, 'Terminal.xml') });
    expect(readFileSync(fx.file, 'utf8')).toContain(`configDir: ${out}`);
    expect(readFileSync(join(out, 'Terminal.cfg'), 'utf8')).not.toContain('mac=');
    expect(existsSync(join(fx.dir, 'guests/Terminal.cfg'))).toBe(false);

    const started = await run('--json', 'start', 'Terminal');
    expect(started.code, started.stderr).toBe(0);
    const mac = JSON.parse(started.stdout).mac as string;
    expect(readFileSync(fx.file, 'utf8')).toMatch(new RegExp(`mac: "?${mac}"?`));
    expect(readFileSync(join(out, 'Terminal.cfg'), 'utf8')).toContain(`vif = [ 'mac=${mac},bridge=xenbr0' ]`);
    expect(readFileSync(join(out, 'Terminal.xml'), 'utf8')).toContain(`<mac address="${mac}"/>`);

    expect((await run('mac', 'Terminal', '--set', '00:16:3e:00:00:42')).code).toBe(0);
    expect(readFileSync(join(out, 'Terminal.cfg'), 'utf8')).toContain("vif = [ 'mac=00:16:3e:00:00:42,bridge=xenbr0' ]");
    const synced = await run('sync', '--root', join(fx.dir, 'root'));
    expect(synced.code, synced.stderr).toBe(0);
    expect(existsSync(join(fx.dir, 'root', out, 'Terminal.xml'))).toBe(true);
    expect(existsSync(join(fx.dir, 'guests/Terminal.cfg'))).toBe(false);

    const removed = await run('remove', 'Terminal');
    expect(removed.code, removed.stderr).toBe(0);
    expect(existsSync(join(out, 'Terminal.cfg'))).toBe(false);
    expect(existsSync(join(out, 'Terminal.xml'))).toBe(false);
  });

  it('remove also deletes files generated before the manifest knew them, but never a file someone changed', async () => {
    await fx.addGuest('Old');
    const cfg = join(fx.dir, 'guests/Old.cfg');
    const xml = join(fx.dir, 'guests/Old.xml');
    // A state directory that was wiped: nothing records the files, their content still says whose they are.
    const r = await xenroot(['--inventory', fx.file, 'create', 'Old2', '--image', 'tiny'], { env: { XENROOT_STATE_DIR: join(fx.dir, 'other-state') } });
    expect(r.code).toBe(0);
    writeFileSync(xml, readFileSync(xml, 'utf8').replace('</domain>', '<!-- edited by hand --></domain>'));
    const removed = await xenroot(['--inventory', fx.file, '--json', 'remove', 'Old'], { env: { XENROOT_STATE_DIR: join(fx.dir, 'empty-state') } });
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).removedFiles).toEqual([cfg]);
    expect(existsSync(cfg)).toBe(false);
    expect(existsSync(xml)).toBe(true);
  });
});

describe('one rule for a value, from a flag or from the file', () => {
  it('the same bad memory value gets the same rule and exit code 3 from --memory and from the inventory file', async () => {
    const flag = await run('create', 'M', '--image', 'tiny', '--memory', '16');
    expect(flag.code).toBe(3);
    expect(flag.stderr).toContain('--memory "16" is not valid: must be a whole number of MiB (32-1048576)');
    const dir = mkdtempSync(join(tmpdir(), 'xenroot-rule-'));
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, readFileSync(fx.file, 'utf8').replace(/^guests:.*$/m, 'guests:\n  M:\n    image: tiny\n    memory: 16'));
    const fromFile = await xenroot(['--inventory', file, 'list'], { env });
    expect(fromFile.code).toBe(3);
    expect(fromFile.stderr).toContain('guests.M.memory: must be a whole number of MiB (32-1048576)');
  });
});
