/** Images in the inventory: add, remove. */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InventoryError, UsageError } from '../errors.js';
import { detectKver } from '../image/kver.js';
import type { Image } from './schema.js';
import { updateInventory } from './store.js';
import { assertName } from './guests.js';
import { KVER_RE, KVER_RULE } from './validate.js';
import { requireEntry } from './lookup.js';

export interface AddImageOptions {
  name: string;
  root?: string;
  file?: string;
  kver?: string;
  export?: string;
  nfsVersion?: 3 | 4;
  nfsOptions?: string;
  initrdBuilder?: 'builtin' | 'dracut' | 'initramfs-tools' | 'mkinitrd';
  readyPattern?: string;
  append?: string;
}

export async function addImage(inventoryFile: string, opts: AddImageOptions): Promise<{ name: string; image: Image; kverDetected: boolean }> {
  assertName('image', opts.name);
  if (!!opts.root === !!opts.file) throw new UsageError('give exactly one of --root DIR (a directory image) or --file IMG (a loop image file)');
  const source = opts.root ? { root: resolve(opts.root) } : { file: resolve(opts.file as string) };
  const path = source.root ?? source.file!;
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UsageError(`${opts.root ? '--root' : '--file'} ${path} does not exist`);
  if (source.root && !st.isDirectory()) throw new UsageError(`--root ${path} is not a directory (use --file for an image file)`);
  if (source.file && !st.isFile()) throw new UsageError(`--file ${path} is not a regular file (use --root for a directory)`);
  if (opts.kver !== undefined && !KVER_RE.test(opts.kver)) throw new UsageError(`--kver "${opts.kver}" is not valid: must be ${KVER_RULE}`);
  let kver = opts.kver;
  const kverDetected = kver === undefined;
  if (kver === undefined) kver = (await detectKver(source)).kver;
  return updateInventory(inventoryFile, async (inv) => {
    if (inv.data.images[opts.name]) throw new InventoryError(`image "${opts.name}" exists already`, { hint: '`xenroot image show NAME` prints it' });
    const entry: Record<string, unknown> = { ...source, kver };
    if (opts.export) entry.export = opts.export;
    if (opts.nfsVersion) entry.nfsVersion = opts.nfsVersion;
    if (opts.nfsOptions) entry.nfsOptions = opts.nfsOptions;
    if (opts.initrdBuilder) entry.initrdBuilder = opts.initrdBuilder;
    if (opts.readyPattern) entry.readyPattern = opts.readyPattern;
    if (opts.append) entry.append = opts.append;
    inv.set(['images', opts.name], entry);
    inv.revalidate();
    return { name: opts.name, image: inv.data.images[opts.name] as Image, kverDetected };
  });
}

export async function removeImage(inventoryFile: string, name: string): Promise<{ name: string }> {
  return updateInventory(inventoryFile, (inv) => {
    requireEntry(inv.data, 'image', name);
    const users = [
      ...Object.entries(inv.data.guests).filter(([, g]) => g.image === name).map(([n]) => `guest ${n}`),
      ...Object.entries(inv.data.clients).filter(([, c]) => c.image === name).map(([n]) => `client ${n}`),
    ];
    if (users.length)
      throw new InventoryError(`image "${name}" is still used by ${users.slice(0, 5).join(', ')}${users.length > 5 ? ` and ${users.length - 5} more` : ''}`, {
        hint: 'remove or move those first',
      });
    inv.delete(['images', name]);
    return { name };
  });
}

