/** A throwaway site for sync tests: inventory, an image dir, staged boot files, a --root dir. */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';

export const KVER = '6.1.0-99-amd64';

export interface SyncSite {
  dir: string;
  inventory: string;
  root: string;
  bootDir: string;
  cleanup(): Promise<void>;
}

/** Writes an inventory whose site paths are system-style (/tftpboot/..., /etc/...) and stages boot files. */
export async function makeSite(over: { site?: Record<string, unknown>; clients?: Record<string, unknown>; guests?: Record<string, unknown>; header?: string } = {}): Promise<SyncSite> {
  const dir = await mkdtemp(join(tmpdir(), 'xenroot-sync-'));
  const bootDir = join(dir, 'boot');
  await mkdir(join(bootDir, 'terminal'), { recursive: true });
  await writeFile(join(bootDir, 'terminal', `vmlinuz-${KVER}`), 'not really a kernel\n');
  await writeFile(join(bootDir, 'terminal', `initrd-${KVER}-pxe.img`), 'not really an initrd\n');
  await mkdir(join(dir, 'img'));
  const inventory = join(dir, 'inventory.yaml');
  const doc = {
    site: { nfsServer: '10.0.2.2', allow: ['10.0.2.0/24'], bootDir, tftpRoot: '/tftpboot/linux-install', ...over.site },
    images: { terminal: { root: join(dir, 'img'), kver: KVER } },
    guests: over.guests ?? {},
    clients: over.clients ?? {},
  };
  await writeFile(inventory, (over.header ?? '# test inventory\n') + stringify(doc));
  const root = join(dir, 'root');
  await mkdir(root);
  return { dir, inventory, root, bootDir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Snap {
  size: number;
  mtimeMs: number;
  ino: number;
  ctimeMs: number;
}

/** Every file under `dir` with its size, mtime, ctime and inode. */
export async function snapshot(dir: string): Promise<Map<string, Snap>> {
  const out = new Map<string, Snap>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await stat(p);
        out.set(relative(dir, p), { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, ctimeMs: st.ctimeMs });
      }
    }
  };
  await walk(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return out;
}
