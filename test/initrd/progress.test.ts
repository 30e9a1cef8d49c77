import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress } from '../../src/initrd/progress.js';

function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  // A stand-in for a terminal: the progress line only needs isTTY, columns and write.
  Object.assign(w, { isTTY: true, columns: 80 });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => out };
}

describe('progress display', () => {
  it('on a terminal, a build that ends at once prints only its result line', () => {
    const t = fakeTty();
    const p = createProgress('initrd builtin xen', t.stream);
    p.step('resolving modules');
    p.done('/boot/initrd.img (2.4 MB)');
    expect(t.text()).toMatch(/^\r\x1b\[2K✓ initrd builtin xen: \/boot\/initrd\.img \(2\.4 MB\) \(\d+\.\d s\)\n$/);
  });

  it('on a terminal, a longer build redraws one status line with the current step, then the failure', async () => {
    const t = fakeTty();
    const p = createProgress('initrd dracut xen', t.stream);
    p.step('dracut on the host');
    await new Promise((r) => setTimeout(r, 450));
    p.fail('dracut failed');
    expect(t.text()).toContain('initrd dracut xen: dracut on the host [');
    expect(t.text()).toMatch(/✗ initrd dracut xen: dracut failed \(\d+\.\d s\)\n$/);
    expect(t.text()).not.toMatch(/\n.*\n/); // one line, redrawn in place
  });
});
