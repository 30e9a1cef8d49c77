/**
 * From the attacker's side: anyone on the boot network picks the host name its DHCP client
 * sends, and it lands in the lease file that `client discover` shows the admin. A name holding
 * escape sequences (retitle the terminal, clear the screen, hide text, reorder it with a bidi
 * override) must reach the terminal as visible escapes, never as controls.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSite, type SyncSite } from '../sync/fixture.js';
import { xenroot } from '../support/cli.js';

let s: SyncSite;
let env: Record<string, string>;
// ESC ] 0 ; title BEL, then clear screen, then a right-to-left override and a C1 CSI.
const HOSTILE = 'pc\u001b]0;owned\u0007\u001b[2J\u202eexe.txt\u009b31m';
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/;

beforeAll(async () => {
  s = await makeSite();
  env = { XENROOT_INVENTORY: s.inventory, XENROOT_STATE_DIR: join(s.dir, 'state') };
});
afterAll(async () => {
  await s?.cleanup();
});

describe('text from outside printed to the terminal', () => {
  it('client discover shows a hostile DHCP host name from a lease file escaped, not as controls', async () => {
    const leases = join(s.dir, 'dnsmasq.leases');
    await writeFile(leases, `${Math.floor(Date.now() / 1000) + 3600} 52:54:00:16:00:01 10.0.2.77 ${HOSTILE} 01:52:54:00:16:00:01\n`);
    const r = await xenroot(['client', 'discover', '--leases', leases], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('52:54:00:16:00:01');
    expect(r.stdout).not.toMatch(CONTROLS);
    expect(r.stdout).toContain('pc\\x1b]0;owned\\x07\\x1b[2J\\u202eexe.txt\\x9b31m');
  });

  it('the one escaping function every printer uses escapes controls and bidi overrides, keeps newlines, tabs and letters', async () => {
    const { escapeForTerminal } = await import('../../src/sys/terminal.js');
    expect(escapeForTerminal(`a\tb\n${HOSTILE}`)).toBe('a\tb\npc\\x1b]0;owned\\x07\\x1b[2J\\u202eexe.txt\\x9b31m');
    expect(escapeForTerminal('Łódź café ✓')).toBe('Łódź café ✓');
  });
});
