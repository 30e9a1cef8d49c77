/** `xenroot image add|remove|list|show`: the images guests and clients boot. */
import { stat } from 'node:fs/promises';
import { UsageError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { exportWarnings } from '../inventory/exports.js';
import { detectKver } from '../image/kver.js';
import { addImageEntry, removeImageEntry, type ImageEntryOptions } from '../inventory/images.js';
import { requireEntry } from '../inventory/lookup.js';
import { flagPath } from '../inventory/paths.js';
import { FIELDS, flagValue, type Image } from '../inventory/schema.js';
import { loadInventory, updateInventory } from './steps/store.js';

export interface AddImageOptions extends Omit<ImageEntryOptions, 'kver'> {
  /** Default: the newest kernel found in the image (/boot/vmlinuz-V with /lib/modules/V). */
  kver?: string;
}

/** Adds an image; its kernel release is found in the image when not given. */
export async function addImage(inventoryFile: string, opts: AddImageOptions): Promise<{ name: string; image: Image; kverDetected: boolean }> {
  if (!!opts.root === !!opts.file) throw new UsageError('give exactly one of --root DIR (a directory image) or --file IMG (a loop image file)');
  const source = opts.root ? { root: flagPath('--root', opts.root) } : { file: flagPath('--file', opts.file as string) };
  const path = source.root ?? source.file!;
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UsageError(`${opts.root ? '--root' : '--file'} ${path} does not exist`);
  if (source.root && !st.isDirectory()) throw new UsageError(`--root ${path} is not a directory (use --file for an image file)`);
  if (source.file && !st.isFile()) throw new UsageError(`--file ${path} is not a regular file (use --root for a directory)`);
  const kverDetected = opts.kver === undefined;
  const kver = opts.kver === undefined ? (await detectKver(source)).kver : flagValue(FIELDS.images.kver.unwrap(), '--kver', opts.kver);
  return updateInventory(inventoryFile, (inv) => {
    const image = addImageEntry(inv, { ...opts, ...source, kver });
    for (const w of exportWarnings(inv.data)) log().warn(w);
    return { name: opts.name, image, kverDetected };
  });
}

/** Removes an image; refused while a guest or client boots it. Its files are not touched. */
export async function removeImage(inventoryFile: string, name: string): Promise<{ name: string }> {
  return updateInventory(inventoryFile, (inv) => {
    removeImageEntry(inv, name);
    return { name };
  });
}

export async function listImages(inventoryFile: string): Promise<Record<string, Image>> {
  return (await loadInventory(inventoryFile)).data.images;
}

export async function showImage(inventoryFile: string, name: string): Promise<Image> {
  return requireEntry((await loadInventory(inventoryFile)).data, 'image', name);
}
