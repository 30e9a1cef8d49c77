/**
 * A newc ("070701") cpio writer and reader. The writer is what makes the built-in initrd
 * reproducible: entries are sorted by path, inode numbers are assigned in that order, every
 * mtime is the same fixed value, uid/gid are 0, and nothing of the host leaks in.
 */
import { InitrdError } from '../sys/errors.js';

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Buffer; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(f: {
  ino: number; mode: number; nlink: number; mtime: number; size: number;
  rmajor: number; rminor: number; nameSize: number;
}): Buffer {
  return Buffer.from(
    '070701' +
      [f.ino, f.mode, 0, 0, f.nlink, f.mtime, f.size, 0, 0, f.rmajor, f.rminor, f.nameSize, 0].map(hex8).join(''),
    'ascii',
  );
}

/** Normalises an archive path: no leading '/', no '.' or empty components. */
export function normPath(p: string): string {
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.some((c) => c === '..')) throw new InitrdError(`cpio path ${p} contains '..'`);
  return parts.join('/');
}

/**
 * Serialises entries to a newc archive. Parent directories that are not listed are added
 * (mode 0755), except those `keepOut` names; duplicate paths are refused. `mtime` is the fixed
 * timestamp of every entry. (An archive appended to another initrd must not list a directory the
 * other holds as a symbolic link, such as dracut's lib -> usr/lib: the kernel replaces an entry of
 * another type, init/initramfs.c clean_path.)
 */
export function writeCpio(entries: CpioEntry[], mtime = 0, keepOut: (dir: string) => boolean = () => false): Buffer {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normPath(e.path);
    if (!path) continue;
    if (byPath.has(path)) throw new InitrdError(`cpio entry ${path} is listed twice`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!byPath.has(dir) && !keepOut(dir)) byPath.set(dir, { type: 'dir', path: dir });
    }
  }
  // Sort by path components so that a directory always precedes its contents.
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const chunks: Buffer[] = [];
  let ino = 1;
  const push = (e: { mode: number; nlink: number; data: Buffer; rmajor: number; rminor: number }, name: string) => {
    const nameBuf = Buffer.from(name + '\0', 'utf8');
    const h = header({
      ino: name === 'TRAILER!!!' ? 0 : ino++, mode: e.mode, nlink: e.nlink, mtime: name === 'TRAILER!!!' ? 0 : mtime,
      size: e.data.length, rmajor: e.rmajor, rminor: e.rminor, nameSize: nameBuf.length,
    });
    chunks.push(h, nameBuf, Buffer.alloc(pad4(h.length + nameBuf.length)), e.data, Buffer.alloc(pad4(e.data.length)));
  };
  for (const e of sorted) {
    switch (e.type) {
      case 'dir':
        push({ mode: S_IFDIR | (e.mode ?? 0o755), nlink: 2, data: Buffer.alloc(0), rmajor: 0, rminor: 0 }, e.path);
        break;
      case 'file':
        push({ mode: S_IFREG | (e.mode ?? 0o644), nlink: 1, data: e.data, rmajor: 0, rminor: 0 }, e.path);
        break;
      case 'symlink':
        push({ mode: S_IFLNK | 0o777, nlink: 1, data: Buffer.from(e.target, 'utf8'), rmajor: 0, rminor: 0 }, e.path);
        break;
      case 'char':
        push({ mode: S_IFCHR | (e.mode ?? 0o600), nlink: 1, data: Buffer.alloc(0), rmajor: e.major, rminor: e.minor }, e.path);
        break;
    }
  }
  push({ mode: 0, nlink: 1, data: Buffer.alloc(0), rmajor: 0, rminor: 0 }, 'TRAILER!!!');
  const out = Buffer.concat(chunks);
  // Pad the archive to a 512-byte boundary like cpio(1) does.
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}

export interface CpioMember {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'other';
  mode: number;
  size: number;
  /** File contents or symlink target; undefined for other types. */
  data?: Buffer;
}

/**
 * Reads one newc archive starting at `offset`. Returns its members and the offset just past its
 * trailer (zero padding after the trailer is not consumed).
 */
export function readCpio(buf: Buffer, offset = 0): { members: CpioMember[]; end: number } {
  const members: CpioMember[] = [];
  let pos = offset;
  for (;;) {
    if (pos + 110 > buf.length) throw new InitrdError(`truncated cpio archive at byte ${pos}`);
    const magic = buf.toString('ascii', pos, pos + 6);
    if (magic !== '070701' && magic !== '070702') {
      throw new InitrdError(`not a newc cpio header at byte ${pos} (magic ${JSON.stringify(magic)})`, {
        hint: 'only newc (070701/070702) archives are supported',
      });
    }
    const field = (i: number) => parseInt(buf.toString('ascii', pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = pos + 110;
    const name = buf.toString('utf8', nameStart, nameStart + nameSize - 1);
    let dataStart = nameStart + nameSize;
    dataStart += pad4(dataStart - offset);
    const dataEnd = dataStart + size;
    if (dataEnd > buf.length) throw new InitrdError(`truncated cpio member ${name}`);
    pos = dataEnd + pad4(dataEnd - offset);
    if (name === 'TRAILER!!!') return { members, end: pos };
    const fmt = mode & 0o170000;
    const type: CpioMember['type'] =
      fmt === S_IFDIR ? 'dir' : fmt === S_IFREG ? 'file' : fmt === S_IFLNK ? 'symlink' : fmt === S_IFCHR ? 'char'
        : fmt === 0o060000 ? 'block' : fmt === 0o010000 ? 'fifo' : fmt === 0o140000 ? 'socket' : 'other';
    const member: CpioMember = { path: normPathLoose(name), type, mode: mode & 0o7777, size };
    if (type === 'file' || type === 'symlink') member.data = buf.subarray(dataStart, dataEnd);
    members.push(member);
  }
}

function normPathLoose(p: string): string {
  return p.split('/').filter((c) => c !== '' && c !== '.').join('/');
}
