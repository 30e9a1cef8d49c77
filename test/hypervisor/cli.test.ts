// The hypervisor commands as a user runs them (spawned dist/ CLI) against libvirt's test driver.
// test:///default lives per process: each command starts from the driver's default state, so the
// inventory is what carries state from one command to the next (as the pinned MAC must).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { xenroot } from '../support/cli.js';
import { inventoryFixture } from './fixture.js';

const fx = inventoryFixture({ connect: 'test:///default' });
afterAll(() => fx.cleanup());
const run = (...args: string[]) => xenroot(['--inventory', fx.file, ...args]);

describe('xenroot start/stop/status/define/undefine/mac on test:///default', () => {
  it('start pins the MAC on first boot (--json), the next process starts with the same MAC, mac shows it', async () => {
    await fx.addGuest('cli-a');
    const first = await run('--json', 'start', 'cli-a');
    expect(first.code, first.stderr).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1).toMatchObject({ name: 'cli-a', uri: 'test:///default', target: 'qemu', pin: 'pinned', state: 'running' });
    expect(readFileSync(join(fx.guestDir, 'cli-a.cfg'), 'utf8')).toContain(`mac=${r1.mac}`);

    const second = await run('--json', 'start', 'cli-a');
    expect(JSON.parse(second.stdout)).toMatchObject({ pin: 'already-pinned', mac: r1.mac });

    const mac = await run('--json', 'mac', 'cli-a');
    expect(JSON.parse(mac.stdout)).toEqual({ name: 'cli-a', mac: r1.mac, macSource: 'first-boot', pinned: true });
    const human = await run('start', 'cli-a');
    expect(human.stdout).toContain(`MAC ${r1.mac} (pinned)`);
  });

  it('mac --set pins a given MAC and regenerates the files; --unpin removes it; a multicast MAC is a usage error', async () => {
    await fx.addGuest('cli-m');
    const set = await run('--json', 'mac', 'cli-m', '--set', '00:16:3E:0A:0B:0C');
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ mac: '00:16:3e:0a:0b:0c', changed: true });
    expect(readFileSync(join(fx.guestDir, 'cli-m.xml'), 'utf8')).toContain('<mac address="00:16:3e:0a:0b:0c"/>');
    const bad = await run('mac', 'cli-m', '--set', '01:00:5e:00:00:01');
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('01:00:5e:00:00:01');
    const both = await run('mac', 'cli-m', '--set', '00:16:3e:0a:0b:0d', '--unpin');
    expect(both.code).toBe(2);
    const unpin = await run('--json', 'mac', 'cli-m', '--unpin');
    expect(JSON.parse(unpin.stdout)).toMatchObject({ mac: null, changed: true, pinned: false });
    expect(readFileSync(join(fx.guestDir, 'cli-m.cfg'), 'utf8')).not.toContain('mac=');
  });

  it('status lists every guest with state and pinning; stop of a guest that is not running says so', async () => {
    const st = await run('--json', 'status');
    expect(st.code, st.stderr).toBe(0);
    const rows = JSON.parse(st.stdout) as Array<{ name: string; state: string; pinnedMac?: string }>;
    expect(rows.map((r) => r.name)).toEqual(['cli-a', 'cli-m']);
    expect(rows.every((r) => r.state === 'undefined')).toBe(true);
    const table = await run('status');
    expect(table.stdout).toMatch(/NAME\s+STATE\s+MAC\s+PINNED\s+HOST/);
    expect(table.stdout).toMatch(/cli-m\s+not defined\s+-\s+no \(at first start\)/);
    const stop = await run('stop', 'cli-a');
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain('cli-a is not running');
  });

  it('define and undefine report what they did', async () => {
    const def = await run('--json', 'define', 'cli-a', '--target', 'xen');
    expect(def.code, def.stderr).toBe(0);
    expect(JSON.parse(def.stdout)).toMatchObject({ defined: true, target: 'xen' });
    const undef = await run('undefine', 'cli-a');
    expect(undef.stdout).toContain('cli-a is not defined'); // a new process: test:///default starts empty
  });

  it('errors exit with the hypervisor code and a hint: unknown guest, unreachable host, console of a stopped guest, bad --expect', async () => {
    const unknown = await run('start', 'nope');
    expect(unknown.code).toBe(3);
    const far = await run('--connect', `qemu:///system?socket=${join(fx.dir, 'none.sock')}`, 'start', 'cli-a');
    expect(far.code).toBe(5);
    expect(far.stderr).toContain('none.sock');
    expect(far.stderr).toContain('hint:');
    const off = await run('console', 'cli-a', '--expect', 'login:');
    expect(off.code).toBe(5);
    expect(off.stderr).toContain('is not running');
    const badRe = await run('console', 'cli-a', '--expect', '(');
    expect(badRe.code).toBe(2);
    // A value outside the inventory's domain targets: exit 3, as every enumerated inventory value (cli/options.ts modelChoice).
    const badTarget = await run('start', 'cli-a', '--target', 'kvm');
    expect(badTarget.code).toBe(3);
  });
});
