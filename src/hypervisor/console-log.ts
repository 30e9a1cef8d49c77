/**
 * Console logs kept on a guest's host, read back through the libvirt connection.
 *
 * - libxl (Xen): libvirt's libxl driver ignores <log file=...> on a PV console; xenconsoled writes
 *   /var/log/xen/console/guest-NAME.log when it runs with --log=guest (XENCONSOLED_TRACE=guest on
 *   Debian). That directory is made a dir pool `xenroot-consoles` (no build: its owner and mode stay).
 * - qemu: the serial chardev carries <log file=DIR/NAME.log append='on'/> (render/libvirt-xml.ts)
 *   with DIR = /var/log/xenroot/console, the same pool name (built by xenroot).
 * Reading is `vol-download --offset N` of that volume: nothing on the host but libvirtd.
 */
import { ensureDirPool } from './boot-store.js';
import { parseVolCapacity, virshBatch, virshDownload, type VirshOptions } from './virsh.js';
import type { DomainTarget } from '../inventory/constants.js';

export const CONSOLE_POOL = 'xenroot-consoles';
export const XEN_CONSOLE_DIR = '/var/log/xen/console';
export const QEMU_CONSOLE_DIR = '/var/log/xenroot/console';

/** Where a guest's console log is on its host, by domain flavour. Pure. */
export function consoleLogPath(target: DomainTarget, name: string): { dir: string; file: string; path: string } {
  const dir = target === 'xen' ? XEN_CONSOLE_DIR : QEMU_CONSOLE_DIR;
  const file = target === 'xen' ? `guest-${name}.log` : `${name}.log`;
  return { dir, file, path: `${dir}/${file}` };
}

export interface ConsoleLogChunk {
  /** Size of the log on the host, bytes. */
  size: number;
  /** Byte offset the text starts at. */
  offset: number;
  text: string;
}

/** A guest's console log on its host, readable from here. */
export class ConsoleLogReader {
  constructor(
    private readonly v: VirshOptions,
    private readonly target: DomainTarget,
  ) {}

  private pooled: Promise<void> | undefined;

  /** Ensures the pool over the console directory (qemu: builds the directory). */
  ensurePool(): Promise<void> {
    const dir = consoleLogPath(this.target, 'x').dir;
    this.pooled ??= ensureDirPool(this.v, CONSOLE_POOL, dir, this.target !== 'xen').catch((err: unknown) => {
      this.pooled = undefined;
      throw err;
    });
    return this.pooled;
  }

  /** Current size of NAME's log (undefined: no log yet). */
  async size(name: string): Promise<number | undefined> {
    await this.ensurePool();
    const { file } = consoleLogPath(this.target, name);
    const { out } = await virshBatch(this.v, `reading the console log of ${name}`, [
      ['r', `pool-refresh ${CONSOLE_POOL}`],
      ['i', `vol-info --bytes --pool ${CONSOLE_POOL} ${file}`],
    ]);
    return parseVolCapacity(out.get('i') ?? '');
  }

  /** The log from byte `from` (default: the last `maxBytes`, 256 KiB). Empty text when there is no log. */
  async read(name: string, opts: { from?: number; maxBytes?: number } = {}): Promise<ConsoleLogChunk> {
    const size = await this.size(name);
    if (size === undefined) return { size: 0, offset: 0, text: '' };
    const offset = Math.max(0, opts.from ?? size - (opts.maxBytes ?? 256 * 1024));
    if (offset >= size) return { size, offset: size, text: '' };
    const { file } = consoleLogPath(this.target, name);
    const data = await virshDownload(this.v, `reading the console log of ${name}`, CONSOLE_POOL, file, { offset });
    return { size, offset, text: data.toString('utf8') };
  }
}
