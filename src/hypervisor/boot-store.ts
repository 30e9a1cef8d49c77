/**
 * Boot files shipped to a host over its libvirt connection: kernel and initrd become
 * volumes of a dir storage pool `xenroot-boot` that xenroot defines on the host, uploaded with
 * virStorageVolUpload (`virsh vol-upload`, over the same URI: the binding has no streams). Names
 * are content-addressed (`vmlinuz-KVER-SHA12`), so an unchanged file is never sent again and a
 * volume is never overwritten; a guest's <kernel>/<initrd> name the volume paths on that host.
 *
 * Facts this relies on (libvirt 9.0, measured: docs/hosts.md): a volume uploaded into a larger
 * pre-sized one keeps the old tail, so volumes are created with capacity 0; an interrupted upload
 * leaves a truncated volume under its final name, so every start compares sizes and a mismatch is
 * deleted and sent again; after each upload the size and the sha256 (vol-download, hashed here)
 * are checked; a second `vol-create` of a name fails with "exists already": another xenroot is
 * shipping it, so we wait for it and verify.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { create } from 'xmlbuilder2';
import { xmlText } from '../render/xml-text.js';
import { HypervisorError } from '../sys/errors.js';
import { writeFileAtomic } from '../sys/atomic.js';
import { makeTempDir } from '../sys/tmp.js';
import { log } from '../sys/log.js';
import { parseVolCapacity, poolTargetPath, virsh, virshBatch, virshDownload, type VirshOptions } from './virsh.js';

export const BOOT_POOL = 'xenroot-boot';

/** A local file to have on the host under a content-addressed volume name. */
export interface BootFile {
  /** Path on this machine. */
  local: string;
  /** Volume name on the host (see bootVolumeName). */
  name: string;
  size: number;
  sha256: string;
}

export interface ShippedFile {
  name: string;
  /** The volume's path on the host: what <kernel>/<initrd> name. */
  path: string;
  size: number;
  /** true: sent now; false: the host had it already. */
  uploaded: boolean;
  ms: number;
}

/** What a driver that can hold boot files on its host offers (libvirt: yes; xl: no, files stay local). */
export interface BootFileStore {
  /** The pool directory on the host. */
  readonly dir: string;
  /** Defines, builds and starts the pool when missing; refuses a pool of that name at another path. */
  ensurePool(): Promise<void>;
  /** Makes every file present and whole on the host; sends only what is missing or truncated. */
  ship(files: BootFile[], say?: (line: string) => void): Promise<ShippedFile[]>;
  /** Cheap check (sizes only, one virsh call): the names whose volume is missing or has another size. */
  stale(files: BootFile[]): Promise<string[]>;
  /** Full check: downloads the volume and compares its sha256 with `sha256`. */
  verify(file: BootFile): Promise<boolean>;
}

/** The volume name of a boot file: `PREFIX-SHA12` (PREFIX e.g. vmlinuz-6.1.0-28-amd64). Pure. */
export function bootVolumeName(prefix: string, sha256: string): string {
  return `${prefix}-${sha256.slice(0, 12)}`;
}

/**
 * A libvirt dir storage pool NAME at DIR (`virsh pool-define`), built with xmlbuilder2 and
 * render/xml-text.ts so that a `<`, `&`, `&lt;` or quote in either is read back as written. `perms`: the target directory
 * 0755 root:root. Pure.
 */
export function poolXml(name: string, dir: string, perms: boolean): string {
  const target = create().ele('pool', { type: 'dir' }).ele('name').txt(xmlText('pool name', name)).up().ele('target');
  target.ele('path').txt(xmlText('pool directory', dir));
  if (perms) target.ele('permissions').ele('mode').txt('0755').up().ele('owner').txt('0').up().ele('group').txt('0');
  return target.doc().end({ headless: true, prettyPrint: true }) + '\n';
}

/** An empty raw volume NAME (`virsh vol-create`, then vol-upload), 0644 root:root, built with xmlbuilder2 (escaped as the pool's). Pure. */
export function volumeXml(name: string): string {
  const vol = create().ele('volume', { type: 'file' }).ele('name').txt(xmlText('volume name', name)).up();
  vol.ele('capacity', { unit: 'bytes' }).txt('0').up().ele('allocation', { unit: 'bytes' }).txt('0');
  vol.ele('target').ele('format', { type: 'raw' }).up().ele('permissions').ele('mode').txt('0644').up().ele('owner').txt('0').up().ele('group').txt('0');
  return vol.doc().end({ headless: true, prettyPrint: true }) + '\n';
}

const MiB = 1024 * 1024;

/**
 * Ensures a dir pool NAME at DIR on the host: pool-dumpxml, else pool-define (+ pool-build when
 * `build`), then pool-start and pool-autostart. "already active" is success; a pool of that name
 * at another path is refused.
 */
export async function ensureDirPool(v: VirshOptions, name: string, dir: string, build: boolean): Promise<void> {
  const { out } = await virshBatch(v, `checking storage pool ${name}`, [
    ['x', `pool-dumpxml ${name}`],
    ['i', `pool-info ${name}`],
  ]);
  const xml = out.get('x') ?? '';
  if (xml) {
    const at = poolTargetPath(xml);
    if (at !== dir.replace(/\/+$/, '')) {
      throw new HypervisorError(`storage pool ${name} at ${v.displayUri} is at ${at ?? '(no path)'}, not ${dir}`, {
        hint: `set the host's boot dir to ${at} (inventory hosts.NAME.bootDir), or remove that pool on the host (virsh pool-destroy/pool-undefine ${name})`,
      });
    }
    if (/^State:\s+running/m.test(out.get('i') ?? '')) return;
    await virsh(v, `starting storage pool ${name}`, [`pool-start ${name}`], { check: false });
    return;
  }
  const tmp = await makeTempDir('xenroot-pool-');
  try {
    const file = join(tmp.path, 'pool.xml');
    await writeFileAtomic(file, poolXml(name, dir, build));
    const def = await virsh(v, `defining storage pool ${name}`, ['pool-define', file], { check: false });
    if (def.exitCode !== 0 && !/already exists/.test(def.stderr)) await virsh(v, `defining storage pool ${name}`, ['pool-define', file]);
  } finally {
    await tmp.remove();
  }
  const r = await virsh(v, `starting storage pool ${name}`, [`${build ? `pool-build ${name}; ` : ''}pool-start ${name}; pool-autostart ${name}`], { check: false });
  const errors = r.stderr.split('\n').filter((l) => /^error:/.test(l) && !/already active|already exists/.test(l) && !/^error: Failed to (build|start) pool/.test(l));
  const info = await virsh(v, `checking storage pool ${name}`, [`pool-info ${name}`]);
  if (!/^State:\s+running/m.test(info.stdout)) throw new HypervisorError(`storage pool ${name} at ${v.displayUri} did not start: ${errors.join(' ') || r.stderr.trim()}`);
}

export class VirshBootStore implements BootFileStore {
  constructor(
    private readonly v: VirshOptions,
    readonly dir: string,
  ) {}

  private pooled: Promise<void> | undefined;

  ensurePool(): Promise<void> {
    this.pooled ??= ensureDirPool(this.v, BOOT_POOL, this.dir, true).catch((err: unknown) => {
      this.pooled = undefined;
      throw err;
    });
    return this.pooled;
  }

  /** Sizes of volumes by name (undefined: missing), one virsh call. */
  private async sizes(names: string[]): Promise<Map<string, number | undefined>> {
    const cmds: Array<[string, string]> = names.map((n, i) => [`v${i}`, `vol-info --bytes --pool ${BOOT_POOL} ${n}`]);
    const { out } = await virshBatch(this.v, 'checking boot volumes', [['r', `pool-refresh ${BOOT_POOL}`], ...cmds]);
    return new Map(names.map((n, i) => [n, parseVolCapacity(out.get(`v${i}`) ?? '')]));
  }

  async stale(files: BootFile[]): Promise<string[]> {
    await this.ensurePool();
    const sizes = await this.sizes(files.map((f) => f.name));
    return files.filter((f) => sizes.get(f.name) !== f.size).map((f) => f.name);
  }

  async verify(file: BootFile): Promise<boolean> {
    let data: Buffer;
    try {
      data = await virshDownload(this.v, `downloading ${file.name}`, BOOT_POOL, file.name, { timeoutMs: this.transferTimeout(file.size) });
    } catch (err) {
      log().warn({ volume: file.name, err: (err as Error).message }, 'could not read the boot volume back');
      return false;
    }
    return data.length === file.size && createHash('sha256').update(data).digest('hex') === file.sha256;
  }

  private transferTimeout(size: number): number {
    // Nested TCG over ssh moved 30 MB in ~20 s: allow 0.5 MB/s plus the call timeout.
    return this.v.timeoutMs + Math.ceil(size / (0.5 * MiB)) * 1000;
  }

  /** Creates and uploads one volume; false when another process was shipping it and we waited instead. */
  private async upload(f: BootFile, tmpDir: string, say?: (line: string) => void): Promise<boolean> {
    const volFile = join(tmpDir, `${f.name}.xml`);
    await writeFileAtomic(volFile, volumeXml(f.name));
    const c = await virsh(this.v, `creating volume ${f.name}`, ['vol-create', BOOT_POOL, volFile], { check: false });
    if (c.exitCode !== 0) {
      // Another xenroot is shipping the same file (the name is its content): wait for it to finish.
      if (/exists already|already exists/.test(c.stderr)) return this.awaitOther(f).then(() => false);
      await virsh(this.v, `creating volume ${f.name}`, ['vol-create', BOOT_POOL, volFile]);
    }
    const big = f.size >= 4 * MiB;
    const t0 = Date.now();
    if (big) say?.(`shipping ${f.name} (${(f.size / MiB).toFixed(1)} MiB) to ${this.v.displayUri} ...`);
    try {
      await virsh(this.v, `uploading ${f.name}`, ['vol-upload', '--pool', BOOT_POOL, f.name, f.local], { timeoutMs: this.transferTimeout(f.size) });
    } catch (err) {
      // Never leave a truncated volume under the final name.
      await virsh(this.v, `removing volume ${f.name}`, [`vol-delete --pool ${BOOT_POOL} ${f.name}`], { check: false });
      throw err;
    }
    if (big) {
      const s = (Date.now() - t0) / 1000;
      say?.(`shipped ${f.name} in ${s.toFixed(1)} s (${(f.size / MiB / Math.max(s, 0.001)).toFixed(1)} MiB/s)`);
    }
    return true;
  }

  /** Waits until a volume someone else is uploading has its full size (or the transfer time is up). */
  private async awaitOther(f: BootFile): Promise<void> {
    const end = Date.now() + this.transferTimeout(f.size);
    log().info({ volume: f.name, uri: this.v.displayUri }, 'another process is shipping this boot file: waiting for it');
    while (Date.now() < end) {
      if ((await this.sizes([f.name])).get(f.name) === f.size) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new HypervisorError(`volume ${f.name} on ${this.v.displayUri} did not reach ${f.size} bytes while another process shipped it`, { hint: 'run the command again: a truncated volume is sent again' });
  }

  async ship(files: BootFile[], say?: (line: string) => void): Promise<ShippedFile[]> {
    await this.ensurePool();
    const sizes = await this.sizes(files.map((f) => f.name));
    const results: ShippedFile[] = [];
    let tmp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
    try {
      for (const f of files) {
        const t0 = Date.now();
        const have = sizes.get(f.name);
        if (have === f.size) {
          results.push({ name: f.name, path: join(this.dir, f.name), size: f.size, uploaded: false, ms: Date.now() - t0 });
          continue;
        }
        if (have !== undefined && have < f.size) {
          // Still growing: another process is uploading it right now. Wait for it instead.
          await new Promise((r) => setTimeout(r, 1500));
          const now = (await this.sizes([f.name])).get(f.name);
          if (now !== undefined && now > have) {
            await this.awaitOther(f);
            if (!(await this.verify(f))) throw new HypervisorError(`volume ${f.name} on ${this.v.displayUri} does not match ${f.local} after another process shipped it`, { hint: 'run the command again' });
            results.push({ name: f.name, path: join(this.dir, f.name), size: f.size, uploaded: false, ms: Date.now() - t0 });
            continue;
          }
        }
        if (have !== undefined) {
          log().warn({ volume: f.name, size: have, expected: f.size, uri: this.v.displayUri }, 'boot volume has the wrong size (an interrupted upload?): sending it again');
          await virsh(this.v, `removing volume ${f.name}`, [`vol-delete --pool ${BOOT_POOL} ${f.name}`]);
        }
        tmp ??= await makeTempDir('xenroot-vol-');
        const sent = await this.upload(f, tmp.path, say);
        const after = (await this.sizes([f.name])).get(f.name);
        if (after !== f.size || !(await this.verify(f))) {
          await virsh(this.v, `removing volume ${f.name}`, [`vol-delete --pool ${BOOT_POOL} ${f.name}`], { check: false });
          throw new HypervisorError(`volume ${f.name} on ${this.v.displayUri} does not match ${f.local} after upload (size ${after ?? 'missing'}, expected ${f.size})`, {
            hint: 'run the command again; if it repeats, check the disk of the host',
          });
        }
        results.push({ name: f.name, path: join(this.dir, f.name), size: f.size, uploaded: sent, ms: Date.now() - t0 });
      }
    } finally {
      await tmp?.remove();
    }
    return results;
  }
}
