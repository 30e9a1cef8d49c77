/**
 * One line per schema problem that says what is wrong and what is accepted, in the terms of the
 * file: an unknown key names the keys that are known (and the one it is closest to), a bad entry
 * name gives the naming rule, a missing required value says it is missing. zod's own wording
 * ("Invalid key in record", "must be a string" for a key spelt another way) never reaches the user.
 */
import leven from 'leven';
import type { core } from 'zod';

type Issue = core.$ZodIssue;

function at(raw: unknown, path: PropertyKey[]): unknown {
  let cur = raw;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k as string)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** The known key closest to a misspelt one (case-insensitive match first, then edit distance <= 3). */
export function closestKey(key: string, known: string[]): string | undefined {
  const same = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (same) return same;
  let best: string | undefined;
  let bestD = 4;
  for (const k of known) {
    const d = leven(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function where(path: PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '(top level)';
}

/** The message of one issue, given the raw data it was found in and the keys the object at its path accepts. */
function describe(issue: Issue, raw: unknown, knownKeys: (path: PropertyKey[]) => string[] | undefined): string {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(issue.path) ?? [];
    const parts = issue.keys.map((k) => {
      const near = closestKey(k, known);
      return `unknown key "${k}"${near ? ` (did you mean ${near}?)` : ''}`;
    });
    return `${where(issue.path)}: ${parts.join('; ')}${known.length ? `; known keys: ${known.join(', ')}` : ''}`;
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0]?.message ?? issue.message;
    const name = String(issue.path[issue.path.length - 1] ?? '');
    return `${where(issue.path.slice(0, -1))}: entry name ${JSON.stringify(name)} is not valid: ${inner.replace(/^name must be/, 'must be')}`;
  }
  if (issue.code === 'invalid_type' && at(raw, issue.path) === undefined) {
    return `${where(issue.path)}: is missing (required): it ${issue.message}`;
  }
  return `${where(issue.path)}: ${issue.message}`;
}

/**
 * The one-line summary of a failed validation: the most telling issue first (an unknown key
 * explains a "missing" one beside it), then how many more there are.
 */
export function describeIssues(issues: readonly Issue[], raw: unknown, knownKeys: (path: PropertyKey[]) => string[] | undefined): string {
  if (issues.length === 0) return 'invalid inventory';
  const rank = (i: Issue): number => (i.code === 'unrecognized_keys' ? 0 : i.code === 'invalid_key' ? 1 : 2);
  const sorted = [...issues].sort((a, b) => rank(a) - rank(b));
  const first = describe(sorted[0] as Issue, raw, knownKeys);
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `${first}${more}`;
}
