/**
 * A small parser of xl.cfg(5) syntax for the tests: `KEY = VALUE` lines where VALUE is a number,
 * a single- or double-quoted string (xl's libxlu dequotes both; no escapes are emitted by us) or
 * a [ list ] of strings, and `#` comments. Used to prove rendered files read back as the model.
 */
export type XlValue = number | string | string[];

export function parseXlCfg(text: string): Record<string, XlValue> {
  const out: Record<string, XlValue> = {};
  let i = 0;
  const s = text;
  const ws = () => {
    while (i < s.length) {
      if (s[i] === '#') while (i < s.length && s[i] !== '\n') i++;
      else if (/\s/.test(s[i]!)) i++;
      else break;
    }
  };
  const str = (): string => {
    const q = s[i];
    if (q !== "'" && q !== '"') throw new Error(`expected a string at ${i}`);
    const end = s.indexOf(q, i + 1);
    if (end < 0) throw new Error('unterminated string');
    const v = s.slice(i + 1, end);
    if (v.includes('\n')) throw new Error('newline inside a string');
    i = end + 1;
    return v;
  };
  const value = (): XlValue => {
    if (s[i] === '[') {
      i++;
      const list: string[] = [];
      ws();
      while (s[i] !== ']') {
        list.push(str());
        ws();
        if (s[i] === ',') i++;
        ws();
      }
      i++;
      return list;
    }
    if (s[i] === "'" || s[i] === '"') return str();
    const m = /^-?\d+/.exec(s.slice(i));
    if (!m) throw new Error(`bad value at ${i}: ${s.slice(i, i + 20)}`);
    i += m[0].length;
    return Number(m[0]);
  };
  for (;;) {
    ws();
    if (i >= s.length) break;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!m) throw new Error(`expected a key at ${i}`);
    i += m[0].length;
    ws();
    if (s[i] !== '=') throw new Error(`expected = after ${m[0]}`);
    i++;
    ws();
    if (m[0] in out) throw new Error(`duplicate key ${m[0]}`);
    out[m[0]] = value();
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ';')) i++;
    if (i < s.length && s[i] !== '\n' && s[i] !== '#') throw new Error(`trailing text after ${m[0]}`);
  }
  return out;
}

/** Parses a vif spec "mac=..,bridge=.." into its key/value pairs. */
export function parseVif(spec: string): Record<string, string> {
  return Object.fromEntries(spec.split(',').filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
}
