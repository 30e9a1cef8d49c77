/**
 * A rollout of 2,000 clients (and 20 guests) SIGKILLed at distinct moments: after every kill each
 * node's files (pxelinux.cfg/01-MAC with nodes/MAC/ipxe, NAME.cfg with NAME.xml) name exactly one
 * revision, whose kernel and initrd are there; the inventory parses; and the next rollout
 * completes, moving every node. Real processes and a real SIGKILL; no QEMU (the files are what a
 * booting node would read).
 *
 * Why 20 trials suffice (there were 50 random ones, 332 s of the suite): the kill moments are no
 * longer drawn at random but placed, so no two trials kill at the same point. Half of them are
 * spread evenly over the uninterrupted run, one per tenth of it (planning, writing the new file
 * sets, the switch, the inventory save: each phase holds one or more of them); the other half
 * are aimed at the commit, fired 0, 1, 2, ... 9 ms after the first switch link is renamed into
 * place (inotify names it), where a node's two files could disagree if the switch were not one
 * rename. The count of trials that caught the fleet half-moved (some nodes on each revision) is
 * printed and must not be zero. XENROOT_KILL_TRIALS raises the count (the same placement, finer).
 * The clients' entry sets of both revisions stay on disk after the first two rollouts (a set no
 * node names is kept until `image prune`), so the trials move clients by their switch links alone;
 * the guests' sets are written and removed in every trial, so a kill while sets are written is
 * still among the moments. With nothing unlinked and one line changed per inventory field, a
 * rollout takes about a third of what it took (bench/rollout.mjs: 0.32x), and the kills are
 * spread over the shorter run, so the test shrinks with it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, watch } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/ops/steps/store.js';
import { XENROOT, xenroot } from '../support/cli.js';
import { clientMac, revisionSite, type RevisionSite } from './fixture.js';

const CLIENTS = 2000;
const GUESTS = 20;
const TRIALS = Number(process.env.XENROOT_KILL_TRIALS ?? 20);
let s: RevisionSite;
let tftp: string;
let guestDir: string;

async function x(args: string[]) {
  const r = await xenroot(args, { env: s.env });
  expect(r.code, `xenroot ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/** The revision a boot file names (its kernel path images/terminal@N/ or BOOTDIR/terminal@N/), checking that the kernel and initrd it names exist. */
function revisionOf(file: string, kind: 'tftp' | 'guest'): number {
  const text = readFileSync(file, 'utf8');
  const revs = new Set([...text.matchAll(/terminal@(\d+)\//g)].map((m) => Number(m[1])));
  expect(revs.size, `${file} names ${[...revs].join(' and ') || 'no revision'}:\n${text}`).toBe(1);
  const paths =
    kind === 'tftp'
      ? [...text.matchAll(/(?:KERNEL |initrd=|kernel \/|initrd \/)(images\/terminal@\d+\/[^\s,]+)/g)].map((m) => join(tftp, m[1]!))
      : // a guest file names the site path; under --root the staged file is below the root
        [...text.matchAll(/(\/\S+\/terminal@\d+\/(?:vmlinuz|initrd)[^'"<\s]*)/g)].map((m) => join(s.root, m[1]!));
  expect(paths.length).toBeGreaterThan(0);
  for (const p of paths) {
    if (!seen.has(p)) seen.set(p, existsSync(p));
    expect(seen.get(p), `${file} names ${p}, which does not exist`).toBe(true);
  }
  return [...revs][0]!;
}

let seen = new Map<string, boolean>();

/** Per node, the one revision its files name (throws if its two files disagree). */
function fleet(): Map<string, number> {
  seen = new Map();
  const out = new Map<string, number>();
  for (let i = 0; i < CLIENTS; i++) {
    const mac = clientMac(i).replaceAll(':', '-');
    const a = revisionOf(join(tftp, 'pxelinux.cfg', `01-${mac}`), 'tftp');
    const b = revisionOf(join(tftp, 'nodes', mac, 'ipxe'), 'tftp');
    expect(b, `client pc${i}: pxelinux.cfg names revision ${a}, ipxe names ${b}`).toBe(a);
    out.set(`pc${i}`, a);
  }
  for (let i = 0; i < GUESTS; i++) {
    const a = revisionOf(join(guestDir, `g${i}.cfg`), 'guest');
    const b = revisionOf(join(guestDir, `g${i}.xml`), 'guest');
    expect(b, `guest g${i}: .cfg names revision ${a}, .xml names ${b}`).toBe(a);
    out.set(`g${i}`, a);
  }
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

beforeAll(async () => {
  s = await revisionSite({ clients: CLIENTS, guests: GUESTS });
  s.env.XENROOT_LOCK_STALE_MS = '2000';
  tftp = join(s.root, 'tftpboot/linux-install');
  guestDir = join(s.root, s.dir, 'guests');
  await x(['image', 'publish', 'terminal', '--no-sync', '--root', s.root]); // where rollout --root reads its revisions
  await writeFile(join(s.image, 'etc-marker'), 'B\n');
  await x(['image', 'publish', 'terminal', '--no-sync', '--root', s.root]); // where rollout --root reads its revisions
  // Untested revisions: this test is about the files, the PASS gate is proven elsewhere.
  await x(['rollout', 'terminal@1', '--all', '--force', '--root', s.root]);
}, 600_000);

afterAll(async () => {
  await s?.cleanup();
});

describe('rollout under SIGKILL', () => {
  it(`a rollout of ${CLIENTS} clients and ${GUESTS} guests killed at ${TRIALS} distinct moments (spread over the run and aimed at the commit) leaves every node on one revision, the inventory readable, and the next rollout completes`, async () => {
    let current = 1;
    expect(new Set(fleet().values())).toEqual(new Set([1]));
    // How long an uninterrupted rollout takes, to spread the kills over it.
    const t0 = Date.now();
    await x(['rollout', 'terminal@2', '--all', '--force', '--root', s.root]);
    const full = Date.now() - t0;
    current = 2;
    let halfMoved = 0;
    let killed = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const target = current === 1 ? 2 : 1;
      const child = spawn('node', [XENROOT, 'rollout', `terminal@${target}`, '--all', '--force', '--root', s.root], {
        env: { ...process.env, ...s.env, XENROOT_LOG_JSON: '1' },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      // Odd trials: one moment per equal share of the whole run, each another share. Even trials:
      // aimed at the commit, a distinct delay after the first switch link is renamed into place.
      const aimed = trial % 2 === 0;
      const slot = Math.floor(trial / 2);
      const slots = Math.ceil(TRIALS / 2);
      let fired = false;
      const kill = () => {
        if (!fired) {
          fired = true;
          child.kill('SIGKILL');
        }
      };
      let watcher: ReturnType<typeof watch> | undefined;
      if (aimed) {
        const delay = (slot * 10) / slots;
        watcher = watch(join(tftp, 'nodes'), (_event, name) => {
          if (name && !name.startsWith('.') && name !== 'entries') setTimeout(kill, delay);
        });
        setTimeout(kill, full * 2);
      } else setTimeout(kill, ((slot + 0.5) / slots) * full);
      const code = await exited;
      watcher?.close();
      if (code === null) killed++;
      // A killed run leaves the inventory's lock behind: the next command takes it over at once,
      // its PID being gone (test/cli/concurrency.test.ts proves the takeover). Every tenth trial
      // leaves it to that; the others remove the dead run's lock.
      if (trial % 10 !== 9) rmSync(`${s.inventory}.lock`, { recursive: true, force: true });
      // After the kill: every node is on one revision (its two files agree), the inventory parses.
      const after = fleet();
      const revs = new Set(after.values());
      for (const r of revs) expect([1, 2]).toContain(r);
      if (revs.size === 2) halfMoved++;
      await loadInventory(s.inventory);
      // The next rollout completes and moves every node.
      await x(['rollout', `terminal@${target}`, '--all', '--force', '--root', s.root]);
      expect(new Set(fleet().values())).toEqual(new Set([target]));
      const inv = await loadInventory(s.inventory);
      expect(new Set([...Object.values(inv.data.clients), ...Object.values(inv.data.guests)].map((n) => n.revision))).toEqual(new Set([target]));
      current = target;
    }
    // Nothing half-written is left behind once a rollout has completed.
    expect(walk(s.root).filter((p) => p.includes('.xenroot-tmp-'))).toEqual([]);
    console.log(`rollout of ${CLIENTS} clients + ${GUESTS} guests: ${full} ms uninterrupted; ${TRIALS} trials at distinct moments (half aimed at the commit), ${killed} killed mid-run, ${halfMoved} caught the fleet half-moved`);
    expect(killed).toBeGreaterThan(TRIALS / 2);
    expect(halfMoved).toBeGreaterThan(0);
  }, 900_000);
});
