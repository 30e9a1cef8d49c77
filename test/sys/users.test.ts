// Accounts of this host: the passwd reader that gives the TFTP user's uid and gid.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostAccount } from '../../src/sys/users.js';

const dir = mkdtempSync(join(tmpdir(), 'xenroot-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('host accounts', () => {
  it('reads uid and gid of a named user, and nothing for a user that is not there or a damaged line', () => {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\ntftp:x:107:113:tftp daemon,,,:/srv/tftp:/usr/sbin/nologin\nbroken:x:abc:1::/:/bin/false\n');
    expect(hostAccount('tftp', passwd)).toEqual({ uid: 107, gid: 113 });
    expect(hostAccount('root', passwd)).toEqual({ uid: 0, gid: 0 });
    expect(hostAccount('dnsmasq', passwd)).toBeUndefined();
    expect(hostAccount('broken', passwd)).toBeUndefined();
    expect(hostAccount('tft', passwd)).toBeUndefined();
  });
});
