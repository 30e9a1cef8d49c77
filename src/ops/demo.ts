/**
 * `xenroot demo`: the main job on an embedded default, for a new user on a fresh machine.
 * Builds a tiny busybox image from Debian's packages (a real Debian kernel and busybox-static),
 * writes a local inventory beside it, serves the image with a private NFS server that only the
 * guest reaches (a network namespace of its own, which the guest's QEMU enters),
 * builds its initrd, creates the guest `Terminal`, starts it (its MAC is pinned on this first
 * boot) and attaches its console. Where Xen is absent the guest is the QEMU test domain under
 * libvirt's qemu driver (a private libvirtd when none runs). Everything it started is stopped
 * when the console ends, also on Ctrl-C.
 *
 * With `real`, the image is a real Debian 12 systemd image made by `image bootstrap` (mmdebstrap,
 * a few minutes the first time, kept in the demo's directory) and the guest is `Debian`: systemd
 * brings up a serial getty that logs root in (the demo asks for autologin) on its NFS root.
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
import { bootstrapImage } from '../image/bootstrap.js';
import { detectKver } from '../image/kver.js';
import { guestFiles } from '../inventory/paths.js';
import { loadInventory, updateInventory } from './steps/store.js';
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
  /** Boot a real Debian 12 systemd image instead of the tiny one. */
  real?: boolean;
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
  // The tiny image (default) or a real Debian image: the image, its guest, what shows it is up.
  const demo = opts.real
    ? { image: 'debian', guest: 'Debian', memory: 768, ready: / login: /, readyText: 'its login prompt' }
    : { image: 'terminal', guest: 'Terminal', memory: 256, ready: new RegExp(DEFAULT_MARKER), readyText: DEFAULT_MARKER };
  const imageDir = join(dir, 'images', demo.image);

  let kver: string;
  if (opts.real) {
    if (existsSync(imageDir)) {
      kver = (await detectKver({ root: imageDir })).kver;
    } else {
      say('making a Debian 12 systemd image with mmdebstrap (a few minutes; kept for the next run)');
      kver = (await bootstrapImage({ dir: imageDir, suite: 'bookworm', hostname: 'xenroot-demo', autologin: true })).kver;
    }
  } else {
    say('fetching a Debian kernel and busybox-static (cached after the first run)');
    const kernel = await prepareKernel();
    const busybox = await prepareBusyboxStatic();
    await buildTinyImage({ dir: imageDir, kernel, busybox, marker: DEFAULT_MARKER });
    kver = kernel.kver;
  }

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
  if (!inv.data.images[demo.image]) await addImage(inventory, { name: demo.image, root: imageDir, kver, readyPattern: demo.ready.source });

  let nfs: NfsServer | undefined;
  let h: Hypervisor | undefined;
  let local: LocalLibvirtd | undefined;
  try {
    // In a network namespace of its own: only the guest's QEMU, started inside it, reaches it.
    nfs = await startNfsServer({ exports: [{ path: imageDir }], netns: true });
    const pseudo = nfs.exports[0]!.pseudo;
    say(`serving ${imageDir} over NFSv4 in a private network namespace, port ${nfs.port}: only the guest reaches it (it mounts 10.0.2.2:${pseudo})`);
    const port = nfs.port;
    await updateInventory(inventory, (i) => {
      const img = i.data.images[demo.image]!;
      if (img.export !== pseudo) i.set(['images', demo.image, 'export'], pseudo);
      if (img.nfsOptions !== `port=${port}`) i.set(['images', demo.image, 'nfsOptions'], `port=${port}`);
      if (img.kver !== kver) i.set(['images', demo.image, 'kver'], kver);
    });
    inv = await loadInventory(inventory);
    say('building the initrd (built-in builder, virtio_net + NFS)');
    const staged = await stageBootFiles(inv.data.site, demo.image, inv.data.images[demo.image]!, 'qemu');
    say(`staged ${staged.kernel} and ${staged.initrd}`);

    if (!inv.data.guests[demo.guest]) await createGuest(inventory, { name: demo.guest, image: demo.image, memory: demo.memory });
    inv = await loadInventory(inventory);
    const { cfg, xml } = guestFiles(inv.data, inv.path, demo.guest);
    const files = { cfg, xml };

    ({ h, local } = await connectOrStartPrivate(process.env.XENROOT_CONNECT ?? 'qemu:///system', !process.env.XENROOT_CONNECT));
    const hv = h;
    if (isActive(await hv.state(demo.guest))) await hv.destroy(demo.guest);
    const t0 = Date.now();
    const started = await startGuest(inventory, demo.guest, { hypervisor: hv, target: 'qemu', ...(nfs.qemuEmulator ? { emulator: nfs.qemuEmulator } : {}) });
    say(`started ${demo.guest} at ${hv.uri}; MAC ${started.mac} (${started.pin === 'already-pinned' ? 'pinned earlier' : 'pinned now, on its first boot'})`);
    const cmd = hv.consoleCommand(demo.guest);
    const stateOf = () => hv.state(demo.guest);
    const interactive = opts.interactive ?? !!process.stdin.isTTY;
    const base = { inventory, image: demo.image, guest: demo.guest, files, mac: started.pinnedMac, pin: started.pin, uri: hv.uri };
    if (interactive) {
      say(opts.real ? 'attaching the console: root is logged in on the guest; `poweroff` ends it, Ctrl-] detaches' : 'attaching the console: a shell on the guest; `exit` powers it off, Ctrl-] detaches');
      const r = await attachConsole(cmd, { stateOf });
      return { ...base, bootMs: undefined, console: 'interactive', outcome: r.outcome };
    }
    const r = await expectConsole(cmd, demo.ready, { timeoutMs: opts.timeoutMs ?? (opts.real ? 300_000 : 120_000), stateOf, name: demo.guest });
    const bootMs = Date.now() - t0;
    for (const line of r.lastLines) process.stdout.write(`  | ${line}\n`);
    return { ...base, bootMs, console: 'expect', outcome: 'ready' };
  } finally {
    if (h) {
      const hv = h;
      if (isActive(await hv.state(demo.guest).catch(() => 'undefined' as const))) await hv.destroy(demo.guest).catch(() => undefined);
      await hv.close().catch(() => undefined);
    }
    if (local) await local.stop();
    if (nfs) await nfs.stop();
  }
}
