/**
 * `initrd ls`: lists any initrd (newc cpio, uncompressed or gzip/xz/zstd compressed, and
 * concatenations of them such as dracut's uncompressed early cpio followed by a compressed main
 * one) and says whether the Xen network driver (xen-netfront, alias xennet) and NFS root support
 * are present, as module files or built into the kernel per the archive's modules.builtin.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { DependencyError, InitrdError } from '../sys/errors.js';
import { type CpioMember, readCpio } from './cpio.js';
import { moduleName } from './modules.js';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

export interface InitrdSegment {
  compression: Compression;
  /** Byte offset of the segment in the file. */
  offset: number;
  entries: number;
}

export interface InitrdListing {
  path: string;
  segments: InitrdSegment[];
  members: Array<Pick<CpioMember, 'path' | 'type' | 'mode' | 'size'> & { target?: string }>;
  /** Kernel releases with a lib/modules/KVER directory. */
  kvers: string[];
  /** Canonical names of the module files in the archive, sorted. */
  modules: string[];
  /** Canonical names listed in modules.builtin files in the archive. */
  builtin: string[];
  xennet: Presence;
  nfs: Presence & { versions: string[] };
  virtioNet: Presence;
}

export interface Presence {
  present: boolean;
  how: 'module' | 'builtin' | 'absent';
}

function presence(name: string, modules: Set<string>, builtin: Set<string>): Presence {
  if (modules.has(name)) return { present: true, how: 'module' };
  if (builtin.has(name)) return { present: true, how: 'builtin' };
  return { present: false, how: 'absent' };
}

function detect(buf: Buffer, pos: number): 'gzip' | 'xz' | 'zstd' | 'cpio' | undefined {
  if (buf.length - pos < 6) return undefined;
  const six = buf.toString('latin1', pos, pos + 6);
  if (six === '070701' || six === '070702') return 'cpio';
  if (buf[pos] === 0x1f && buf[pos + 1] === 0x8b) return 'gzip';
  if (six === '\xfd7zXZ\x00') return 'xz';
  if (buf.readUInt32LE(pos) === 0xfd2fb528) return 'zstd';
  return undefined;
}

async function decompressTool(tool: 'xz' | 'zstd', data: Buffer): Promise<Buffer> {
  try {
    const r = await execa(tool, ['-dc'], { input: data, encoding: 'buffer', stripFinalNewline: false });
    return Buffer.from(r.stdout);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new DependencyError(`${tool} is needed to read this initrd`, { hint: `install the Debian package ${tool === 'xz' ? 'xz-utils' : 'zstd'}` });
    }
    throw new InitrdError(`${tool} could not decompress the initrd: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Reads the concatenated cpio archives of an initrd buffer. Pure apart from xz/zstd subprocesses. */
export async function listInitrdBuffer(buf: Buffer, path = '<buffer>'): Promise<InitrdListing> {
  const segments: InitrdSegment[] = [];
  const all: CpioMember[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) {
      pos++;
      continue;
    }
    const kind = detect(buf, pos);
    if (!kind) {
      if (segments.length === 0) {
        throw new InitrdError(`${path} is not an initrd: no cpio, gzip, xz or zstd data at the start`, {
          hint: 'supported: newc cpio, uncompressed or gzip/xz/zstd compressed, possibly concatenated',
        });
      }
      break; // trailing data the kernel would ignore as well
    }
    if (kind === 'cpio') {
      const { members, end } = readCpio(buf, pos);
      segments.push({ compression: 'none', offset: pos, entries: members.length });
      all.push(...members);
      pos = end;
      continue;
    }
    // A compressed segment runs to the end of the file (the kernel and dracut lay them out so).
    const rest = buf.subarray(pos);
    let data: Buffer;
    try {
      data = kind === 'gzip' ? gunzipSync(rest) : await decompressTool(kind, rest);
    } catch (err) {
      if (err instanceof InitrdError || err instanceof DependencyError) throw err;
      throw new InitrdError(`${path}: cannot decompress the ${kind} data at byte ${pos}: ${(err as Error).message}`, { cause: err });
    }
    let p = 0;
    let entries = 0;
    while (p < data.length) {
      if (data[p] === 0) {
        p++;
        continue;
      }
      const { members, end } = readCpio(data, p);
      entries += members.length;
      all.push(...members);
      p = end;
    }
    segments.push({ compression: kind, offset: pos, entries });
    break;
  }

  const kvers = new Set<string>();
  const modules = new Set<string>();
  const builtin = new Set<string>();
  for (const m of all) {
    const km = /^(?:usr\/)?lib\/modules\/([^/]+)(\/.*)?$/.exec(m.path);
    if (km && m.type === 'dir' && !km[2]) kvers.add(km[1]!);
    if (m.type === 'file' && /\.ko(\.(xz|zst|gz))?$/.test(m.path)) modules.add(moduleName(m.path));
    if (m.type === 'file' && /\/modules\.builtin$/.test(m.path) && m.data) {
      for (const line of m.data.toString('utf8').split('\n')) if (line.trim()) builtin.add(moduleName(line.trim()));
    }
  }
  const nfsVersions = ['nfsv3', 'nfsv4'].filter((v) => modules.has(v) || builtin.has(v)).map((v) => v.slice(3));
  const nfs = presence('nfs', modules, builtin);
  return {
    path,
    segments,
    members: all.map((m) => ({
      path: m.path, type: m.type, mode: m.mode, size: m.size,
      ...(m.type === 'symlink' && m.data ? { target: m.data.toString('utf8') } : {}),
    })),
    kvers: [...kvers].sort(),
    modules: [...modules].sort(),
    builtin: [...builtin].sort(),
    xennet: presence('xen_netfront', modules, builtin),
    nfs: { ...nfs, versions: nfsVersions },
    virtioNet: presence('virtio_net', modules, builtin),
  };
}

export async function listInitrd(path: string): Promise<InitrdListing> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new InitrdError(`cannot read initrd ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'give the path of an initrd file',
      cause: err,
    });
  }
  return listInitrdBuffer(buf, path);
}

/** Human summary lines of a listing (pure). */
