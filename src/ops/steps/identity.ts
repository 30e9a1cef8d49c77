/**
 * Per-node identity pieces for the planner: for each node, its SSH host keys (made once,
 * kept in xenroot's state), its per-node files read from the inventory or from their source
 * files, and a lazily built gzip'd cpio (render/identity.ts lays it out, initrd/cpio.ts writes it)
 * with a key naming every input, so an apply rebuilds only the pieces whose inputs changed. Also
 * the inputs of guests' ramdisks (the image's initrd of each flavour that exists, by stat).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ensureHostKeys, hostKeyHolder, hostKeysStamp, type HostKey } from '../../deploy/host-keys.js';
import type { GuestRamdiskInput, IdentityArchive } from '../../deploy/plan.js';
import { writeCpio } from '../../initrd/cpio.js';
import { nodeAddress, nodeHostname } from '../../inventory/identity.js';
import { bootFiles, stateDir } from '../../inventory/paths.js';
import { effectiveGuest } from '../../inventory/effective.js';
import type { Client, DomainTarget, Guest, InventoryData } from '../../inventory/schema.js';
import { identityMembers, type NodeIdentity } from '../../render/identity.js';
import { DeployError } from '../../sys/errors.js';
import { readSourceFile, SOURCE_RULE, statSourceFile } from '../../sys/source-file.js';

/** Bumped when the layout of the piece changes, so every piece is rebuilt. */
const FORMAT = 3;

export type NodeKind = 'guest' | 'client';

/** `client:pc1` / `guest:Terminal`: the key of a node in the maps below (its file owner). */
export function nodeKey(kind: NodeKind, name: string): `${NodeKind}:${string}` {
  return `${kind}:${name}`;
}

type NodeFileSpec = NonNullable<Client['files']>[string];

interface ResolvedFile {
  path: string;
  mode: number;
  /** Inline text, or a source file read at build time. */
  inline?: string;
  source?: string;
  stamp: string;
}

/** Refused source files name the node, the file and what a source must be. */
function sourceError(kind: NodeKind, name: string, path: string, err: unknown): DeployError {
  return new DeployError(`${kind}s.${name}.files.${path}: its source ${(err as Error).message}`, {
    hint: `a source must be ${SOURCE_RULE} (relative paths are relative to the inventory's directory), or give the content inline`,
  });
}

function resolveFiles(kind: NodeKind, name: string, files: Record<string, NodeFileSpec> | undefined, inventoryFile: string, state: string): ResolvedFile[] {
  const out: ResolvedFile[] = [];
  for (const [path, spec] of Object.entries(files ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const mode = typeof spec === 'string' || spec.mode === undefined ? 0o644 : parseInt(spec.mode, 8);
    if (typeof spec === 'string' || spec.content !== undefined) {
      const inline = typeof spec === 'string' ? spec : (spec.content as string);
      out.push({ path, mode, inline, stamp: createHash('sha1').update(inline).digest('hex') });
      continue;
    }
    const source = resolve(dirname(inventoryFile), spec.source as string);
    let st;
    try {
      st = statSourceFile(source, [state, stateDir(undefined)]);
    } catch (err) {
      throw sourceError(kind, name, path, err);
    }
    out.push({ path, mode, source, stamp: `${source}:${st.size}:${st.mtimeMs}:${st.ino}` });
  }
  return out;
}

/** Maps a list with at most `limit` calls in flight (ssh-keygen per node on a first sync). */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}

/**
 * The identity pieces of `nodes`: host keys ensured under `state` (made when missing), files
 * resolved (a missing source is a DeployError naming it), the archive built on demand.
 */
export async function nodeIdentities(data: InventoryData, inventoryFile: string, state: string, nodes: { kind: NodeKind; name: string }[], opts: { generate?: boolean } = {}): Promise<Map<string, IdentityArchive>> {
  const site = data.site;
  const types = site.identity.hostKeys;
  const out = new Map<string, IdentityArchive>();
  const prepared = await mapLimit(nodes, 4, async ({ kind, name }) => {
    const node = (kind === 'guest' ? data.guests[name] : data.clients[name]) as Guest | Client;
    const hostname = nodeHostname(name, node);
    // Keys belong to the node's identity (a client's MAC, a guest's name bound to its MAC), never to a name alone.
    const keys = types.length ? await ensureHostKeys(state, inventoryFile, hostKeyHolder(kind, name, node.mac), node.mac, types, `root@${hostname}`, opts) : undefined;
    // The group's files, then the node's own (its file of the same path wins).
    const group = node.group !== undefined && Object.hasOwn(data.groups ?? {}, node.group) ? data.groups[node.group] : undefined;
    const files = resolveFiles(kind, name, group?.files ? { ...group.files, ...(node.files ?? {}) } : node.files, inventoryFile, state);
    return { kind, name, node, hostname, keys, files };
  });
  for (const p of prepared) {
    const address = nodeAddress(site, p.node);
    const mac = p.node.mac;
    const key = createHash('sha1')
      .update(JSON.stringify([FORMAT, p.kind, p.name, p.hostname, mac ?? '', address ?? null, types, p.keys ? hostKeysStamp(p.keys.file) : '', p.files.map((f) => [f.path, f.mode, f.stamp])]))
      .digest('hex');
    const keyList: HostKey[] = p.keys?.keys ?? [];
    const build = (): Uint8Array => {
      const id: NodeIdentity = {
        kind: p.kind,
        name: p.name,
        hostname: p.hostname,
        mac,
        address,
        keys: keyList,
        files: p.files.map((f) => {
          if (f.inline !== undefined) return { path: f.path, mode: f.mode, data: Buffer.from(f.inline, 'utf8') };
          try {
            return { path: f.path, mode: f.mode, data: readSourceFile(f.source as string, [state, stateDir(undefined)]) };
          } catch (err) {
            throw sourceError(p.kind, p.name, f.path, err);
          }
        }),
      };
      // No entry for lib/ or below: dracut's initramfs has lib -> usr/lib, which a directory entry
      // would replace (its hook directory exists there already).
      const cpio = writeCpio(
        identityMembers(id).map((m) => ({ type: 'file' as const, path: m.path, data: Buffer.from(m.data), mode: m.mode })),
        0,
        (d) => d === 'lib' || d.startsWith('lib/'),
      );
      return gzipSync(cpio, { level: 9 });
    };
    out.set(nodeKey(p.kind, p.name), { key, build });
  }
  return out;
}

/** The flavours whose image initrd exists for each guest (their ramdisks can be made), by stat. */
export function guestRamdiskInputs(data: InventoryData, names: string[], targets: DomainTarget[] = ['xen', 'qemu']): Map<string, GuestRamdiskInput[]> {
  const out = new Map<string, GuestRamdiskInput[]>();
  for (const name of names) {
    const g = data.guests[name];
    // Its image through its group, or the revision it boots (IMAGE@REV in the revision model).
    const imageName = g ? effectiveGuest(data, name, g).image : undefined;
    const image = imageName === undefined ? undefined : data.images[imageName];
    if (!imageName || !image?.kver) continue;
    const list: GuestRamdiskInput[] = [];
    for (const target of targets) {
      const base = bootFiles(data.site, imageName, image, target).initrd;
      const st = statSync(base, { throwIfNoEntry: false });
      if (st?.isFile()) list.push({ target, base, baseStamp: `${st.size}:${st.mtimeMs}:${st.ino}` });
    }
    out.set(name, list);
  }
  return out;
}
