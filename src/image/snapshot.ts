/**
 * Frozen copies of an image tree (the published revisions of an image) and their manifests.
 *
 * `snapshotTree` copies a tree with rsync (`-aHAX --numeric-ids`: owners by number, hard links,
 * ACLs, extended attributes such as file capabilities, devices, sparse files) into a new
 * directory, hard-linking every file that is unchanged since the previous revision
 * (`--link-dest=PREV`, rsync's own test: same size, mtime, mode, owner, ACLs and xattrs). Files are
 * linked to the previous *revision*, never to the editable source: an in-place edit of the source
 * (`echo >> /etc/foo`) must not reach a published revision. So the disk cost of a revision is what
 * changed plus its own directories. docs/revisions.md has the measurements behind this choice
 * (against reflinks, which this ext4 lacks, and squashfs).
 *
 * `treeManifest` walks a tree and writes one line per entry (type, mode, uid:gid, size, mtime,
 * content sha256 or link target or device number, path), in tree order with names sorted; its sha256 names the
 * revision's content. A file that shares its inode with the previous revision takes that
 * revision's recorded hash, so only new files are read.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { ImageError } from '../sys/errors.js';
import { interruptSignal, throwIfInterrupted } from '../sys/lifetime.js';
import { requireProgram } from '../sys/which.js';
import { sha256FileSync } from '../sys/hash.js';

export interface SnapshotOptions {
  /** The previous revision's tree: unchanged files become hard links to it. */
  linkDest?: string;
  /** Count only (rsync --dry-run): nothing is written. */
  dryRun?: boolean;
}

export interface SnapshotStats {
  /** Regular files rsync transferred (copied), and their bytes. */
  copiedFiles: number;
  copiedBytes: number;
  /** Entries of the source tree. */
  files: number;
  ms: number;
}

function statLine(out: string, label: RegExp): number {
  const m = label.exec(out);
  return m ? Number(m[1]!.replace(/[,.]/g, '')) : 0;
}

/**
 * Copies `src` (a directory) into `dest` (which must not exist; made here) with rsync, linking
 * unchanged files against `linkDest`. Throws ImageError with rsync's last lines on failure and
 * DependencyError when rsync is missing.
 */
export async function snapshotTree(src: string, dest: string, opts: SnapshotOptions = {}): Promise<SnapshotStats> {
  requireProgram('rsync', 'rsync', 'to publish image revisions');
  throwIfInterrupted();
  // A dry run leaves out ACLs and xattrs: rsync 3.2's generator then reads the xattrs of
  // destination directories a dry run never made (exit 23); the counts do not depend on them.
  const args = [opts.dryRun ? '-aH' : '-aHAX', '--numeric-ids', '--stats', '--no-inc-recursive'];
  if (opts.linkDest) args.push(`--link-dest=${opts.linkDest}`);
  if (opts.dryRun) args.push('--dry-run');
  args.push(`${src.replace(/\/+$/, '')}/`, `${dest.replace(/\/+$/, '')}/`);
  const t0 = performance.now();
  const r = await execa('rsync', args, { reject: false, cancelSignal: interruptSignal(), env: { LC_ALL: 'C' } });
  throwIfInterrupted();
  if (r.exitCode !== 0) {
    const tail = String(r.stderr).trim().split('\n').slice(-3).join('; ');
    throw new ImageError(`copying ${src} into ${dest} failed (rsync exit ${r.exitCode}): ${tail}`, {
      hint: 'the revision was not published; check the free space and that the source is readable',
    });
  }
  const out = String(r.stdout);
  return {
    files: statLine(out, /Number of files: ([\d,.]+)/),
    copiedFiles: statLine(out, /Number of regular files transferred: ([\d,.]+)/),
    copiedBytes: statLine(out, /Total transferred file size: ([\d,.]+)/),
    ms: Math.round(performance.now() - t0),
  };
}

export interface TreeManifest {
  /** One line per entry, in tree order (each directory's names sorted). */
  text: string;
  sha256: string;
  /** Entries (files, directories, links, devices). */
  files: number;
  /** Apparent bytes of the regular files. */
  bytes: number;
  /** Disk bytes (st_blocks) of the entries that are not shared with `prev` (new inodes). */
  addedBytes: number;
}

/** Escapes a path for one manifest line (no newline, no backslash ambiguity). */
function escapePath(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function typeOf(st: Stats): string {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  if (st.isCharacterDevice()) return 'c';
  if (st.isBlockDevice()) return 'b';
  if (st.isFIFO()) return 'p';
  return 's';
}

/** path -> content sha256 of the regular files of a manifest text. */
export function manifestHashes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('f ')) continue;
    const parts = line.split(' ');
    out.set(parts.slice(6).join(' '), parts[5]!);
  }
  return out;
}

/**
 * The manifest of the tree at `root`. With `prev` (the previous revision's tree and manifest
 * text), a regular file with the same inode there reuses its recorded hash instead of being read.
 */
export function treeManifest(root: string, prev?: { root: string; text: string }, source?: { root: string; since: number }): TreeManifest {
  const hashes = prev ? manifestHashes(prev.text) : new Map<string, string>();
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  let addedBytes = 0;
  let seen = 0;
  const visit = (rel: string, st: Stats) => {
    // (st may be replaced below, when a stale link is copied)
    if (++seen % 4096 === 0) throwIfInterrupted();
    const abs = rel ? join(root, rel) : root;
    const type = typeOf(st);
    let what = '-';
    let shared = false;
    if (type === 'f') {
      bytes += st.size;
      const old = prev ? lstatSync(join(prev.root, rel), { throwIfNoEntry: false }) : undefined;
      const known = hashes.get(rel);
      shared = !!old && old.ino === st.ino && old.dev === st.dev;
      what = shared && known ? known : sha256FileSync(abs);
      // rsync links a file whose size and mtime did not change. A file rewritten since the
      // previous revision (its ctime says so) keeping both is compared by content, and copied
      // if it differs: a revision never shares a stale inode.
      if (shared && source) {
        const src = lstatSync(join(source.root, rel), { throwIfNoEntry: false });
        if (src?.isFile() && src.ctimeMs >= source.since && sha256FileSync(join(source.root, rel)) !== what) {
          unlinkSync(abs);
          const r = spawnSync('cp', ['-a', join(source.root, rel), abs], { stdio: ['ignore', 'ignore', 'pipe'] });
          if (r.status !== 0) throw new ImageError(`cannot copy ${join(source.root, rel)}: ${String(r.stderr).trim()}`);
          st = lstatSync(abs);
          shared = false;
          what = sha256FileSync(abs);
        }
      }
    } else if (type === 'l') what = encodeURIComponent(readlinkSync(abs));
    else if (type === 'c' || type === 'b') what = String(st.rdev);
    if (!shared) addedBytes += st.blocks * 512;
    files++;
    const line = (s: Stats) => `${type} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${type === 'f' ? s.size : 0} ${Math.floor(s.mtimeMs / 1000)} ${what} ${escapePath(rel || '.')}`;
    const at = lines.push(line(st)) - 1;
    if (type === 'd') {
      for (const name of readdirSync(abs).sort()) visit(rel ? `${rel}/${name}` : name, lstatSync(join(abs, name)));
      // A stale link copied below this directory changed its mtime: the line says what holds now.
      const now = lstatSync(abs);
      if (now.mtimeMs !== st.mtimeMs) lines[at] = line(now);
    }
  };
  const top = lstatSync(root, { throwIfNoEntry: false });
  if (!top?.isDirectory()) throw new ImageError(`${root} is not a directory`, { hint: 'a revision tree is a directory' });
  visit('', top);
  const text = lines.join('\n') + '\n';
  return { text, sha256: createHash('sha256').update(text).digest('hex'), files, bytes, addedBytes };
}

/** The first differences between two manifest texts (`+ line`, `- line`), at most `max`. */
export function manifestDiff(before: string, after: string, max = 10): string[] {
  const a = new Set(before.split('\n').filter(Boolean));
  const b = new Set(after.split('\n').filter(Boolean));
  const out: string[] = [];
  for (const l of a) if (!b.has(l) && out.length < max) out.push(`- ${l}`);
  for (const l of b) if (!a.has(l) && out.length < max) out.push(`+ ${l}`);
  return out;
}
