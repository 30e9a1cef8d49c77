/**
 * Finds a static busybox for the initrd: the image's own if it is static, else the host's
 * busybox-static, else DependencyError naming the package.
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { DependencyError } from '../sys/errors.js';

/** Host paths where Debian's busybox-static installs its binary. */
export const HOST_BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'];

/**
 * True when `path` is an ELF executable without a PT_INTERP program header (statically linked).
 * Reads only the ELF header and program headers.
 */
export async function isStaticElf(path: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) return false;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(head, 28);
    const phentsize = u16(head, is64 ? 54 : 42);
    const phnum = u16(head, is64 ? 56 : 44);
    const ph = Buffer.alloc(phentsize * phnum);
    await fh.read(ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (u32(ph, i * phentsize) === 3 /* PT_INTERP */) return false;
    return true;
  } finally {
    await fh.close();
  }
}

export interface BusyboxChoice {
  path: string;
  from: 'image' | 'host';
}

/**
 * The busybox to put in the initrd. `hostCandidates` defaults to HOST_BUSYBOX (tests pass an
 * empty list to reproduce a host without busybox-static).
 */
export async function locateBusybox(imageRoot: string | undefined, hostCandidates: string[] = HOST_BUSYBOX): Promise<BusyboxChoice> {
  if (imageRoot) {
    for (const p of ['bin/busybox', 'usr/bin/busybox', 'sbin/busybox']) {
      const full = join(imageRoot, p);
      if (existsSync(full) && (await isStaticElf(full))) return { path: full, from: 'image' };
    }
  }
  for (const p of hostCandidates) if (existsSync(p) && (await isStaticElf(p))) return { path: p, from: 'host' };
  throw new DependencyError('no static busybox: the image has none and the host has no busybox-static', {
    hint: 'install the Debian package busybox-static (apt-get install busybox-static)',
  });
}
