/**
 * Loop devices through losetup(8). Every attach gets its own, free device (`-f --show`), so two
 * sessions on the same file never share one and detaching one leaves the other attached.
 */
import { execa } from 'execa';
import { ImageError } from '../sys/errors.js';

export interface LoopDevice {
  name: string;
  backingFile: string;
}

/** Attaches `file` to a new loop device (read-only unless `readOnly` is false); returns /dev/loopN. */
export async function attachLoop(file: string, readOnly = true): Promise<string> {
  const args = [...(readOnly ? ['-r'] : []), '-f', '--show', file];
  const r = await execa('losetup', args, { reject: false, stdin: 'ignore' });
  const dev = String(r.stdout).trim();
  if (r.exitCode !== 0 || !dev.startsWith('/dev/')) {
    throw new ImageError(`loop-attach: losetup ${args.join(' ')} failed: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`, {
      hint: 'loop devices need root and /dev/loop-control; is the path a regular image file?',
    });
  }
  return dev;
}

export async function detachLoop(device: string): Promise<void> {
  const r = await execa('losetup', ['-d', device], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) {
    // Already gone (autoclear after a lazy unmount) is fine.
    if ((await listLoops()).some((l) => l.name === device)) {
      throw new ImageError(`loop-detach: losetup -d ${device} failed: ${String(r.stderr).trim()}`);
    }
  }
}

/** All attached loop devices with their backing files. */
export async function listLoops(): Promise<LoopDevice[]> {
  const r = await execa('losetup', ['--list', '--json', '-O', 'NAME,BACK-FILE'], { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0 || !String(r.stdout).trim()) return [];
  const parsed = JSON.parse(String(r.stdout)) as { loopdevices?: { name: string; 'back-file': string | null }[] };
  return (parsed.loopdevices ?? []).map((d) => ({ name: d.name, backingFile: (d['back-file'] ?? '').replace(/ \(deleted\)$/, '') }));
}
