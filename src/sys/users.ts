/**
 * Accounts of this host, read from its passwd file (the TFTP server's user that published boot
 * files are owned by). The host's, never an image's: an image's accounts are data of the image.
 */
import { readFileSync } from 'node:fs';

/**
 * The uid and gid of `user` in `passwd` (default /etc/passwd: NAME:PW:UID:GID:...), or undefined
 * when no line names it. Throws the fs error when the file cannot be read.
 */
export function hostAccount(user: string, passwd = '/etc/passwd'): { uid: number; gid: number } | undefined {
  for (const line of readFileSync(passwd, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}
