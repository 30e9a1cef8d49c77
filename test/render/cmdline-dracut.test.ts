/**
 * dracut's own command line parsers judge the lines xenroot writes for dracut initrds: this host's
 * dracut 059 modules.d/95nfs/parse-nfsroot.sh and 35network-legacy/parse-ip-opts.sh, sourced by
 * bash with dracut-lib.sh and dracut's own getarg helper (dracut-util, which reads $CMDLINE). Only
 * library paths are rewritten (to copies in a temp dir), and die() prints instead of writing to
 * /dev/kmsg; the parsing logic is dracut's. Every line the builder accepts parses without dracut's
 * "FATAL ... Refusing to continue", and the naive concatenation of the same arguments (what
 * xenroot emitted before issue 11) makes dracut die where the builder resolved a contradiction.
 */
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCmdline } from '../../src/render/cmdline.js';
import { RenderError } from '../../src/sys/errors.js';
import { TOKENS } from '../support/cmdline-tokens.js';

const D = '/usr/lib/dracut/modules.d';
const UTIL = '/usr/lib/dracut/dracut-util';

let T: string;

beforeAll(async () => {
  T = await mkdtemp(join(tmpdir(), 'xenroot-dracut-parse-'));
  await mkdir(join(T, 'bin'));
  await mkdir(join(T, 'tmp'));
  await mkdir(join(T, 'hook/initqueue/finished'), { recursive: true });
  await symlink(UTIL, join(T, 'bin/dracut-getarg'));
  await symlink(UTIL, join(T, 'bin/dracut-getargs'));
  const files = ['99base/dracut-lib.sh', '99base/dracut-dev-lib.sh', '40network/net-lib.sh', '95nfs/nfs-lib.sh', '95nfs/parse-nfsroot.sh', '35network-legacy/parse-ip-opts.sh'];
  for (const f of files) {
    const text = (await readFile(join(D, f), 'utf8'))
      // dracut keeps its state in the initramfs's /tmp (net.ifaces, net.bootdev, ...): here in T's
      // (first: T itself may lie below /tmp)
      .replace(/\/tmp\//g, `${T}/tmp/`)
      .replace(/\/lib\/(dracut-lib|dracut-dev-lib|net-lib|nfs-lib)\.sh/g, `${T}/$1.sh`)
      .replace(/\/etc\/cmdline\.d/g, `${T}/cmdline.d`)
      .replace(/\/etc\/idmapd\.conf/g, `${T}/idmapd.conf`);
    await writeFile(join(T, f.split('/')[1]!), text);
  }
  await writeFile(
    join(T, 'parse.sh'),
    `T=${T}
export PATH=$T/bin:$PATH
. $T/dracut-lib.sh
die() { echo "DIE: $*"; exit 1; }
info() { :; }; warn() { :; }
mkdir() { :; }; chown() { :; }; chmod() { :; }
hookdir=$T/hook
while IFS= read -r L; do
  ( getcmdline() { printf '%s' "$L"; }
    unset root nfsroot netroot
    . $T/parse-nfsroot.sh
    . $T/parse-ip-opts.sh
    echo "OK $netroot" ) 2>/dev/null | tail -n 1
done
`,
  );
});

afterAll(async () => {
  if (T) await rm(T, { recursive: true, force: true });
});

/** dracut's verdict on each line: "OK NETROOT" or "DIE: reason". */
function dracutParse(lines: string[]): string[] {
  const out = execFileSync('bash', [join(T, 'parse.sh')], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

const base = { server: '10.0.2.2', path: '/srv/xenroot/t', nfsVersion: 4 as const, nfsOptions: 'port=20491', console: 'qemu' as const, dialect: 'dracut' as const };

// dracut and dracut-network are in scripts/setup.sh: a machine without its parsers fails here, not skips.
describe('dracut\'s own parsers (this host\'s dracut) read the lines xenroot writes for dracut', () => {
  it('the generated line: netroot nfs4:SERVER:/PATH:OPTS', () => {
    expect(dracutParse([buildCmdline(base)])).toEqual(['OK nfs4:10.0.2.2:/srv/xenroot/t:port=20491']);
  });

  it('the contradictions of issue 11 make dracut die when concatenated, and parse once the builder resolved them', () => {
    const cases = [
      { extra: ['ip=eth0:dhcp'], dies: /multiple interface configurations/ },
      { extra: ['ip=10.0.2.15::10.0.2.2:255.255.255.0:h::none'], dies: /multiple interface configurations/ },
      { extra: ['nfsroot=10.0.2.2:/srv/other'], dies: /nfsroot only accepted for legacy root=\/dev\/nfs/ },
    ];
    const naive = cases.map((c) => `root=nfs4:10.0.2.2:/srv/xenroot/t ro ip=dhcp rd.neednet=1 console=ttyS0 selinux=0 ${c.extra.join(' ')}`);
    const resolved = cases.map((c) => buildCmdline({ ...base, extra: c.extra }));
    const [before, after] = [dracutParse(naive), dracutParse(resolved)];
    cases.forEach((c, i) => {
      expect(before[i]).toMatch(c.dies);
      expect(after[i], resolved[i]).toMatch(/^OK nfs4?:10\.0\.2\.2:/);
    });
  });

  it('property: every line the builder accepts for dracut, over random appends, parses without a FATAL, with the root the builder meant', () => {
    const arb = fc.array(fc.array(fc.constantFrom(...TOKENS), { maxLength: 5 }).map((t) => t.join(' ')), { maxLength: 3 });
    const lines: string[] = [];
    for (const extra of fc.sample(arb, 250)) {
      try {
        lines.push(buildCmdline({ ...base, extra }));
      } catch (err) {
        expect(err).toBeInstanceOf(RenderError);
      }
    }
    expect(lines.length).toBeGreaterThan(60);
    const verdicts = dracutParse(lines);
    expect(verdicts).toHaveLength(lines.length);
    lines.forEach((l, i) => {
      expect(verdicts[i], l).toMatch(/^OK /);
      const root = /(?:^| )root=(\S+)/.exec(l)![1]!;
      if (root.startsWith('nfs4:') || root.startsWith('nfs:')) expect(verdicts[i]).toBe(`OK ${root}${root.split(':').length === 3 ? ':' : ''}`);
    });
  });
});
