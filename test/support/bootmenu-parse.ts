/**
 * Independent readers of the boot menus xenroot writes, for tests: what each loader hands the
 * kernel. pxelinux/syslinux.efi (syslinux.cfg(5): keyword lines, APPEND initrd=a,b, IPAPPEND 2
 * appends BOOTIF), iPXE (src/core/exec.c: white-space tokens, a token starting with "#" ends the
 * line, "||"/"&&"/";" end a command, `${name}` expands a setting), GRUB (single-quoted words are
 * literal, double-quoted ones expand `$var`).
 */

export interface LoaderBoot {
  kernel: string;
  initrds: string[];
  /** The kernel command line the loader passes (initrd= included where the loader adds it). */
  args: string[];
}

/** The first LABEL of a pxelinux file, as pxelinux boots it for a NIC of MAC `mac`. */
export function readPxelinux(text: string, mac: string): LoaderBoot {
  let kernel = '';
  let append = '';
  let ipappend = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(/\s+/);
    const value = line.slice(key!.length).trim();
    switch (key!.toUpperCase()) {
      case 'KERNEL':
        if (!kernel) kernel = value;
        break;
      case 'APPEND':
        if (!append) append = value;
        break;
      case 'IPAPPEND':
        ipappend = Number(rest[0]);
        break;
    }
  }
  const args = append.split(/\s+/).filter(Boolean);
  if (ipappend & 2) args.push(`BOOTIF=01-${mac.toLowerCase().replace(/:/g, '-')}`);
  const initrd = args.find((a) => a.startsWith('initrd='));
  return { kernel, initrds: initrd ? initrd.slice(7).split(',') : [], args };
}

/** Runs an iPXE script's kernel and initrd commands with the given settings; returns what boots. */
export function readIpxe(text: string, settings: Record<string, string>): LoaderBoot {
  const boot: LoaderBoot = { kernel: '', initrds: [], args: [] };
  const expand = (t: string) => t.replace(/\$\{([^}]*)\}/g, (_, name: string) => settings[name] ?? '');
  for (const raw of text.split('\n')) {
    const tokens = raw.split(/\s+/).filter(Boolean);
    const end = tokens.findIndex((t) => t.startsWith('#') || t === '||' || t === '&&' || t === ';');
    const cmd = (end < 0 ? tokens : tokens.slice(0, end)).map(expand);
    if (cmd[0] === 'kernel') {
      boot.kernel = cmd[1]!;
      boot.args = cmd.slice(2).filter(Boolean);
    } else if (cmd[0] === 'initrd') boot.initrds.push(cmd[1]!);
  }
  return boot;
}

/** GRUB words: '...' literal, "..." with $var / ${var} expanded, bare words expanded. */
function grubWords(line: string, vars: Record<string, string>): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const expandAt = (s: string) => s.replace(/\$\{?([A-Za-z0-9_]+)\}?/g, (_, n: string) => vars[n] ?? '');
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === "'") {
      const j = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, j);
      i = j + 1;
      inWord = true;
    } else if (ch === '"') {
      const j = line.indexOf('"', i + 1);
      cur += expandAt(line.slice(i + 1, j));
      i = j + 1;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else {
      let j = i;
      while (j < line.length && !/[\s'"]/.test(line[j]!)) j++;
      cur += expandAt(line.slice(i, j));
      i = j;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The first menuentry of a GRUB config. */
export function readGrub(text: string, vars: Record<string, string>): LoaderBoot {
  const boot: LoaderBoot = { kernel: '', initrds: [], args: [] };
  for (const raw of text.split('\n')) {
    const words = grubWords(raw.trim(), vars);
    if (words[0] === 'linux' && !boot.kernel) {
      boot.kernel = words[1]!;
      boot.args = words.slice(2);
    } else if (words[0] === 'initrd' && boot.initrds.length === 0) boot.initrds = words.slice(1);
  }
  return boot;
}
