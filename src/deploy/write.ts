/** Writing one generated file: atomically, and only when its content changes. */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { atomicWrite } from '../inventory/store.js';

export type WriteOutcome = 'created' | 'updated' | 'unchanged';

export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeIfChanged(file: string, text: string, mode?: number): Promise<WriteOutcome> {
  const current = await readIfExists(file);
  if (current === text) return 'unchanged';
  await mkdir(dirname(file), { recursive: true });
  await atomicWrite(file, text, mode);
  return current === undefined ? 'created' : 'updated';
}
