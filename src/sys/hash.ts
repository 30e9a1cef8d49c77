/**
 * Content hashes of files: the one definition of "sha256 of a file" (streamed, so a multi-GB image
 * file costs no memory). Used by initrd stamps, TFTP staging, revision records and manifests.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';

/** Lowercase hex sha256 of the bytes of `path` (follows a symlink). Throws the fs error (ENOENT, EISDIR, ...). */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * The same hash read synchronously in 1 MiB blocks, for walkers that stay synchronous (the revision
 * manifest). Throws the fs error.
 */
export function sha256FileSync(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
