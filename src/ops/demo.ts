/**
 * `xenroot demo`: the main job on an embedded default, for a new user on a fresh machine.
 * Builds a tiny busybox image from Debian's packages (a real Debian kernel and busybox-static),
 * writes a local inventory beside it, serves the image with a private NFS server on loopback,
 * builds its initrd, creates the guest `Terminal`, starts it (its MAC is pinned on this first
 * boot) and attaches its console. Where Xen is absent the guest is the QEMU test domain under
 * libvirt's qemu driver (a private libvirtd when none runs). Everything it started is stopped
 * when the console ends, also on Ctrl-C.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startNfsServer, type NfsServer } from '../deploy/nfs-server.js';
import { attachConsole, expectConsole } from '../hypervisor/console.js';
import { connectOrStartPrivate } from '../hypervisor/ensure.js';
import type { LocalLibvirtd } from '../hypervisor/local-libvirtd.js';
import { isActive, type Hypervisor } from '../hypervisor/types.js';
import { prepareBusyboxStatic, prepareKernel } from '../image/debian.js';
import { buildTinyImage, DEFAULT_MARKER } from '../image/tiny.js';
import { guestFiles } from '../inventory/paths.js';
import { loadInventory, updateInventory } from '../inventory/store.js';
import { log } from '../sys/log.js';
import { stageBootFiles } from './build-initrd.js';
import { createGuest } from './create-guest.js';
import { addImage } from './images.js';
import { initInventory } from './init.js';
import { startGuest, type StartResult } from './start-guest.js';

export interface DemoOptions {
  /** Working directory (inventory, image, boot files). Default ./xenroot-demo. */
  dir?: string;
  /** Attach the console interactively (default: when stdin is a terminal). */
  interactive?: boolean;
  timeoutMs?: number;
  /** Progress lines for the human (stderr). */
  say?: (line: string) => void;
}

export interface DemoResult {
  inventory: string;
  image: string;
  guest: string;
  files: { cfg: string; xml: string };
  mac: string;
  pin: StartResult['pin'];
  uri: string;
  bootMs: number | undefined;
  console: 'interactive' | 'expect';
  outcome: string;
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const say = opts.say ?? ((l: string) => log().info(l));
  const dir = resolve(opts.dir ?? 'xenroot-demo');
  const inventory = join(dir, 'inventory.yaml');
  const imageDir = join(dir, 'images', 'terminal');

  say('fetching a Debian kernel and busybox-static (cached after the first run)');
  const kernel = await prepareKernel();
  const busybox = await prepareBusyboxStatic();
  await buildTinyImage({ dir: imageDir, kernel, busybox, marker: DEFAULT_MARKER });

  if (!existsSync(inventory)) {
    say(`writing the inventory ${inventory}`);
    await initInventory(inventory, {
      nfsServer: '10.0.2.2', // the host as QEMU's user network shows it
      allow: ['10.0.2.0/24'],
      exportRoot: join(dir, 'images'),
      bootDir: join(dir, 'boot'),
      bridge: 'xenbr0',
      connect: 'qemu:///system',
    });
  }
  let inv = await loadInventory(inventory);
  if (!inv.data.images.terminal) await addImage(inventory, { name: 'terminal', root: imageDir, kver: kernel.kver, readyPattern: DEFAULT_MARKER });

  let nfs: NfsServer | undefined;
  let h: Hypervisor | undefined;
  let local: LocalLibvirtd | undefined;
  try {
    nfs = await startNfsServer({ exports: [{ path: imageDir }] });
    const pseudo = nfs.exports[0]!.pseudo;
    say(`serving ${imageDir} over NFSv4 on 127.0.0.1:${nfs.port} (the guest mounts 10.0.2.2:${pseudo})`);
    const port = nfs.port;
    await updateInventory(inventory, (i) => {
      const img = i.data.images.terminal!;
      if (img.export !== pseudo) i.set(['images', 'terminal', 'export'], pseudo);
      if (img.nfsOptions !== `port=${port}`) i.set(['images', 'terminal', 'nfsOptions'], `port=${port}`);
      if (img.kver !== kernel.kver) i.set(['images', 'terminal', 'kver'], kernel.kver);
    });
    inv = await loadInventory(inventory);
    say('building the initrd (built-in builder, virtio_net + NFS)');
    const staged = await stageBootFiles(inv.data.site, 'terminal', inv.data.images.terminal!, 'qemu');
    say(`staged ${staged.kernel} and ${staged.initrd}`);

    if (!inv.data.guests.Terminal) await createGuest(inventory, { name: 'Terminal', image: 'terminal', memory: 256 });
    inv = await loadInventory(inventory);
    const { cfg, xml } = guestFiles(inv.data, inv.path, 'Terminal');
    const files = { cfg, xml };

    ({ h, local } = await connectOrStartPrivate(process.env.XENROOT_CONNECT ?? 'qemu:///system', !process.env.XENROOT_CONNECT));
    const hv = h;
    if (isActive(await hv.state('Terminal'))) await hv.destroy('Terminal');
    const t0 = Date.now();
    const started = await startGuest(inventory, 'Terminal', { hypervisor: hv, target: 'qemu' });
    say(`started Terminal at ${hv.uri}; MAC ${started.mac} (${started.pin === 'already-pinned' ? 'pinned earlier' : 'pinned now, on its first boot'})`);
    const cmd = hv.consoleCommand('Terminal');
    const stateOf = () => hv.state('Terminal');
    const interactive = opts.interactive ?? !!process.stdin.isTTY;
    const base = { inventory, image: 'terminal', guest: 'Terminal', files, mac: started.pinnedMac, pin: started.pin, uri: hv.uri };
    if (interactive) {
      say('attaching the console: a shell on the guest; `exit` powers it off, Ctrl-] detaches');
      const r = await attachConsole(cmd, { stateOf });
      return { ...base, bootMs: undefined, console: 'interactive', outcome: r.outcome };
    }
    const r = await expectConsole(cmd, new RegExp(DEFAULT_MARKER), { timeoutMs: opts.timeoutMs ?? 120_000, stateOf, name: 'Terminal' });
    const bootMs = Date.now() - t0;
    for (const line of r.lastLines) process.stdout.write(`  | ${line}\n`);
    return { ...base, bootMs, console: 'expect', outcome: 'ready' };
  } finally {
    if (h) {
      const hv = h;
      if (isActive(await hv.state('Terminal').catch(() => 'undefined' as const))) await hv.destroy('Terminal').catch(() => undefined);
      await hv.close().catch(() => undefined);
    }
    if (local) await local.stop();
    if (nfs) await nfs.stop();
  }
}
