/**
 * A site for revision tests: a small real image (the tiny image's busybox, init and kernel, with
 * only the modules the given initrd targets need), an inventory whose revisions are kept in the
 * test's directory, and `n` PXE clients. Everything under one temp directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { smallTinyTree } from '../support/kernel.js';

export interface RevisionSite {
  dir: string;
  inventory: string;
  image: string;
  root: string;
  revisions: string;
  kver: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** The MAC of client i (i < 65536). */
export function clientMac(i: number): string {
  return `52:54:00:12:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

export async function revisionSite(o: { clients?: number; guests?: number; site?: Record<string, unknown> } = {}): Promise<RevisionSite> {
  const dir = await mkdtemp(join(tmpdir(), 'xenroot-rev-'));
  const image = join(dir, 'img');
  const { kver } = await smallTinyTree(image, ['pxe', 'xen', 'qemu']);
  const clients: Record<string, unknown> = {};
  for (let i = 0; i < (o.clients ?? 0); i++) clients[`pc${i}`] = { mac: clientMac(i), image: 'terminal' };
  const guests: Record<string, unknown> = {};
  for (let i = 0; i < (o.guests ?? 0); i++) guests[`g${i}`] = { image: 'terminal', mac: `00:16:3e:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, macSource: 'given' };
  const inventory = join(dir, 'inventory.yaml');
  const revisions = join(dir, 'revs');
  await writeFile(
    inventory,
    '# revision test inventory\n' +
      stringify({
        site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir: join(dir, 'boot'), tftpRoot: '/tftpboot/linux-install', revisions: { dir: revisions }, ...o.site },
        images: { terminal: { root: image, kver } },
        guests,
        clients,
      }),
  );
  const env = { XENROOT_INVENTORY: inventory, XENROOT_STATE_DIR: join(dir, 'state') };
  return { dir, inventory, image, root: join(dir, 'root'), revisions, kver, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
