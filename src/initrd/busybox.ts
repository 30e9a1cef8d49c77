/**
 * Finds a static busybox for the initrd: the image's own if it is static, else the host's
 * busybox-static, else DependencyError naming the package. An image's busybox is data: it is read
 * inside the image's root (src/image/image-file.ts) and never run on the host.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { DependencyError } from '../sys/errors.js';
import { locateInImage, readImageFile } from '../image/image-file.js';

/** Host paths where Debian's busybox-static installs its binary. */
export const HOST_BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

/**
 * True when `data` is an ELF executable without a PT_INTERP program header (statically linked).
 * Looks only at the ELF header and program headers; never runs it.
 */
function isStaticElf(data: Buffer): boolean {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = data[4] === 2;
  const le = data[5] === 1;
  const u16 = (o: number) => (le ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const u32 = (o: number) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const phoff = is64 ? Number(le ? data.readBigUInt64LE(32) : data.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phoff + phentsize * phnum > data.length) return false;
  for (let i = 0; i < phnum; i++) if (u32(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

export interface BusyboxChoice {
  /** Host path of the binary (for an image's: where it was found, resolved inside the image). */
  path: string;
  from: 'image' | 'host';
  /** Its bytes, read once (an image's through readImageFile: never a host file by a link). */
  data: Buffer;
}

/**
 * The busybox to put in the initrd. `hostCandidates` defaults to HOST_BUSYBOX (tests pass an
 * empty list to reproduce a host without busybox-static).
 */
export async function locateBusybox(imageRoot: string | undefined, hostCandidates: string[] = HOST_BUSYBOX): Promise<BusyboxChoice> {
  if (imageRoot) {
    for (const p of ['bin/busybox', 'usr/bin/busybox', 'sbin/busybox']) {
      const found = await locateInImage(imageRoot, p);
      if (found?.kind !== 'file') continue;
      const data = await readImageFile(imageRoot, p);
      if (isStaticElf(data)) return { path: found.path, from: 'image', data };
    }
  }
  for (const p of hostCandidates) {
    if (!existsSync(p)) continue;
    const data = await readFile(p);
    if (isStaticElf(data)) return { path: p, from: 'host', data };
  }
  throw new DependencyError('no static busybox: the image has none and the host has no busybox-static', {
    hint: 'install the Debian package busybox-static (apt-get install busybox-static)',
  });
}
