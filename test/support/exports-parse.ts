/**
 * An independent reader of exports(5) files, as nfs-utils 2.6 reads them (support/nfs/exports.c
 * getexportent and xgettok): `#` lines are comments, a trailing backslash continues a line, the
 * first token is the path (double quotes allowed), then each white-space separated token is
 * `CLIENT(OPTIONS)`, `CLIENT` (default options), or `(OPTIONS)` alone, which exportfs reads as an
 * export to everyone ("No host name given ... suggest *(...)"). For tests only.
 */
export interface ExportEntry {
  path: string;
  client: string;
  /** Options as written (empty: exportfs' defaults). */
  options: string[];
  line: number;
}

export function parseExports(text: string): ExportEntry[] {
  const out: ExportEntry[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const start = i;
    let line = raw[i] as string;
    while (line.endsWith('\\') && i + 1 < raw.length) line = line.slice(0, -1) + ' ' + raw[++i];
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const tokens = tokenize(trimmed);
    const path = tokens.shift() as string;
    if (tokens.length === 0) out.push({ path, client: '*', options: [], line: start + 1 });
    for (const t of tokens) {
      const m = /^([^(]*)(?:\(([^)]*)\))?$/.exec(t);
      if (!m) throw new Error(`exports line ${start + 1}: cannot read "${t}"`);
      out.push({ path, client: m[1] === '' ? '*' : (m[1] as string), options: m[2] ? m[2].split(',') : [], line: start + 1 });
    }
  }
  return out;
}

function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && /\s/.test(ch)) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  return tokens;
}
