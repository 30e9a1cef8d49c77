// The xl driver's wiring (arguments, parsing, error mapping, first-boot pinning through
// network-list). xl cannot run here (no Xen on this machine), so these tests put a STUB `xl` on
// the driver that replays recorded xl output and logs its arguments; the test names say so.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../src/sys/errors.js';
import { HypervisorCallError } from '../../src/hypervisor/errors.js';
import { startGuest } from '../../src/ops/start-guest.js';
import { XlHypervisor } from '../../src/hypervisor/xl.js';
import { loadInventory } from '../../src/ops/steps/store.js';
import { inventoryFixture } from './fixture.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'xenroot-xl-stub-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stub xl: `list NAME` fails like xl for an unknown domain until `create` ran; network-list replays a recording. */
function stubXl(): { path: string; calls: () => string[][] } {
  const path = join(dir, 'xl');
  const log = join(dir, 'calls.log');
  const state = join(dir, 'created');
  writeFileSync(
    path,
    `#!/bin/sh
echo "$*" >> "${log}"
case "$1" in
  info) echo "host : stub" ;;
  create) touch "${state}"; echo "Parsing config from $2" >&2 ;;
  list)
    if [ "$2" = "-l" ]; then cat "${fixtures}xl-list-l.json"; exit 0; fi
    if [ -n "$2" ] && [ ! -e "${state}" ]; then echo "$2 is an invalid domain identifier (rc=-6)" >&2; exit 1; fi
    printf 'Name                                        ID   Mem VCPUs\\tState\\tTime(s)\\n'
    printf '%-40s %5d %5d %5d     %s  %8.1f\\n' "\${2:-terminal}" 7 256 1 -b---- 3.1 ;;
  network-list) cat "${fixtures}xl-network-list.txt" ;;
  destroy|shutdown) rm -f "${state}" ;;
  *) echo "xl: unknown command $1" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(path, 0o755);
  writeFileSync(log, '');
  rmSync(state, { force: true });
  return { path, calls: () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ')) };
}

describe('xl driver with a STUB xl replaying recorded output (xl cannot run here)', () => {
  it('first start runs `xl create NAME.cfg` (no mac= in the vif), pins the MAC from `xl network-list`, regenerates NAME.cfg', async () => {
    const stub = stubXl();
    const fx = inventoryFixture({ connect: 'xl://' });
    try {
      await fx.addGuest('terminal');
      const cfg = join(fx.guestDir, 'terminal.cfg');
      expect(readFileSync(cfg, 'utf8')).not.toContain('mac=');
      const h = new XlHypervisor({ xl: stub.path });
      const r = await startGuest(fx.file, 'terminal', { hypervisor: h });
      expect(r).toMatchObject({ uri: 'xl://', target: 'xen', mode: 'transient', mac: '00:16:3e:5a:2b:7c', pin: 'pinned', state: 'blocked' });
      expect(stub.calls()).toContainEqual(['create', cfg]);
      expect(stub.calls()).toContainEqual(['network-list', 'terminal']);
      expect((await loadInventory(fx.file)).data.guests['terminal']).toMatchObject({ mac: '00:16:3e:5a:2b:7c', macSource: 'first-boot' });
      expect(readFileSync(cfg, 'utf8')).toContain("vif = [ 'mac=00:16:3e:5a:2b:7c,bridge=xenbr0' ]");
      expect(await h.interfaces('terminal')).toEqual([
        { mac: '00:16:3e:5a:2b:7c', source: 'xenbr0', target: 'vif7.0' },
        { mac: '00:16:3e:10:8a:7e', source: undefined, target: 'vif7.1' },
      ]);
      expect(h.consoleCommand('terminal')).toEqual({ file: stub.path, args: ['console', 'terminal'], escape: '\x1d' });
    } finally {
      fx.cleanup();
    }
  });

  it("maps xl's 'invalid domain identifier' to no-such-domain and reports a missing xl as a DependencyError", async () => {
    const stub = stubXl();
    const h = new XlHypervisor({ xl: stub.path });
    expect(await h.state('ghost')).toBe('undefined');
    const missing = new XlHypervisor({ xl: join(dir, 'no-such-xl') });
    await expect(missing.connect()).rejects.toBeInstanceOf(DependencyError);
    const failing = new XlHypervisor({ xl: '/bin/false' });
    const e2 = await failing.destroy('terminal').catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(HypervisorCallError);
  });
});
