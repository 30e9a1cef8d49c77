/** Edits of the images section of an open inventory (inside `updateInventory`): add, remove. */
import { InventoryError } from '../sys/errors.js';
import { FIELDS, checkEntryName, flagValue, type Image, type InitrdBuilder } from './schema.js';
import type { Inventory } from './store.js';
import { findEntry, requireEntry } from './lookup.js';

export interface ImageEntryOptions {
  name: string;
  /** Exactly one of root (a directory image) and file (a loop image file), absolute. */
  root?: string;
  file?: string;
  kver: string;
  export?: string;
  nfsVersion?: 3 | 4 | string;
  nfsOptions?: string;
  initrdBuilder?: InitrdBuilder | string;
  readyPattern?: string;
  append?: string;
}

/** Adds an image entry; InventoryError for a duplicate name or a bad value. */
export function addImageEntry(inv: Inventory, opts: ImageEntryOptions): Image {
  const name = checkEntryName('image', opts.name);
  if (findEntry(inv.data, 'image', name)) throw new InventoryError(`image "${name}" exists already`, { hint: '`xenroot image show NAME` prints it' });
  const f = FIELDS.images;
  const entry: Record<string, unknown> = {};
  if (opts.root !== undefined) entry.root = flagValue(f.root, '--root', opts.root);
  if (opts.file !== undefined) entry.file = flagValue(f.file, '--file', opts.file);
  entry.kver = flagValue(f.kver, '--kver', opts.kver);
  if (opts.export !== undefined) entry.export = flagValue(f.export, '--export', opts.export);
  if (opts.nfsVersion !== undefined) entry.nfsVersion = flagValue(f.nfsVersion, '--nfs-version', opts.nfsVersion);
  if (opts.nfsOptions !== undefined) entry.nfsOptions = flagValue(f.nfsOptions, '--nfs-options', opts.nfsOptions);
  if (opts.initrdBuilder !== undefined) entry.initrdBuilder = flagValue(f.initrdBuilder, '--initrd-builder', opts.initrdBuilder);
  if (opts.readyPattern !== undefined) entry.readyPattern = flagValue(f.readyPattern, '--ready-pattern', opts.readyPattern);
  if (opts.append !== undefined) entry.append = flagValue(f.append, '--append', opts.append);
  inv.set(['images', name], entry);
  inv.revalidate();
  return inv.data.images[name] as Image;
}

/** Removes an image entry; refuses while a guest or client still boots it. */
export function removeImageEntry(inv: Inventory, name: string): Image {
  const image = requireEntry(inv.data, 'image', name);
  const users = [
    ...Object.entries(inv.data.groups ?? {}).filter(([, g]) => g.image === name).map(([n]) => `group ${n}`),
    ...Object.entries(inv.data.guests).filter(([, g]) => g.image === name).map(([n]) => `guest ${n}`),
    ...Object.entries(inv.data.clients).filter(([, c]) => c.image === name).map(([n]) => `client ${n}`),
  ];
  if (users.length)
    throw new InventoryError(`image "${name}" is still used by ${users.slice(0, 5).join(', ')}${users.length > 5 ? ` and ${users.length - 5} more` : ''}`, {
      hint: 'remove or move those first',
    });
  inv.delete(['images', name]);
  return image;
}
