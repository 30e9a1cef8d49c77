/**
 * Many node names at once: name ranges given on the command line (`lab-[01-40]`, as pdsh and
 * Slurm hostlists write them) and the name patterns of groups (`lab-{nn}`: lab-01, lab-02, ...),
 * from which `client discover --assign` and `client import` take the next free names. Pure.
 */
import { UsageError } from '../sys/errors.js';
import { NAME_RE, NAME_RULE } from './validate.js';

/** At most this many names from one range (a typo such as [1-1000000] is refused, not expanded). */
export const RANGE_LIMIT = 100_000;

const RANGE_PART = /\[([^\]]*)\]/g;

/** Whether a reference is a name range (holds a `[...]` part). */
export function isRange(ref: string): boolean {
  return /\[[^\]]*\]/.test(ref);
}

/** The numbers of one bracket body `01-40,45,50-52`, each with its width (zero padding). */
function rangeItems(body: string, ref: string): string[] {
  const out: string[] = [];
  for (const item of body.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw new UsageError(`name range "${ref}" is not valid: [${body}] must hold numbers or ranges such as [01-40] or [1,3,5-7]`);
    const lo = m[1] as string;
    const hi = m[2] ?? lo;
    if (Number(hi) < Number(lo)) throw new UsageError(`name range "${ref}" is not valid: ${lo}-${hi} runs backwards`);
    // Zero padding as written: [01-40] gives 01..40, [1-40] gives 1..40, [001-100] gives 001..100.
    const width = lo.length > 1 && lo.startsWith('0') ? lo.length : 0;
    if (Number(hi) - Number(lo) + 1 > RANGE_LIMIT) throw new UsageError(`name range "${ref}" is too large (more than ${RANGE_LIMIT} names)`);
    for (let i = Number(lo); i <= Number(hi); i++) out.push(String(i).padStart(width, '0'));
  }
  return out;
}

/**
 * Expands a name range: `lab-[01-40]` gives lab-01 ... lab-40; several brackets multiply
 * (`r[1-2]-n[1-3]`: 6 names); a name without brackets is itself. Throws a UsageError naming the
 * range for a malformed bracket, a backwards range or more than RANGE_LIMIT names.
 */
export function expandRange(ref: string): string[] {
  const parts: string[][] = [];
  let last = 0;
  for (const m of ref.matchAll(RANGE_PART)) {
    parts.push([ref.slice(last, m.index)]);
    parts.push(rangeItems(m[1] as string, ref));
    last = m.index + m[0].length;
  }
  parts.push([ref.slice(last)]);
  if (/[[\]]/.test(parts.filter((_, i) => i % 2 === 0).join(''))) throw new UsageError(`name range "${ref}" is not valid: unbalanced [ or ]`);
  let names = [''];
  for (const options of parts) {
    if (names.length * options.length > RANGE_LIMIT) throw new UsageError(`name range "${ref}" is too large (more than ${RANGE_LIMIT} names)`);
    names = names.flatMap((n) => options.map((o) => n + o));
  }
  return names;
}

const PATTERN_RE = /\{(n+)\}/g;

/** Why a group's name pattern is not usable, or undefined: one `{n}` (unpadded) or `{nn...}` (zero-padded to as many digits). */
export function namePatternProblem(pattern: string): string | undefined {
  const holes = [...pattern.matchAll(PATTERN_RE)];
  if (holes.length !== 1) return 'must hold exactly one number placeholder such as {nn} (lab-{nn}: lab-01, lab-02, ...)';
  if (!NAME_RE.test(pattern.replace(PATTERN_RE, '1'))) return `must give names that are ${NAME_RULE}`;
  return undefined;
}

/** The name with number `i` of a pattern: patternName('lab-{nn}', 7) is lab-07. */
export function patternName(pattern: string, i: number): string {
  return pattern.replace(PATTERN_RE, (_, n: string) => String(i).padStart(n.length, '0'));
}

/**
 * The next `count` names of a pattern that `taken` does not hold, lowest numbers first from
 * `from` (gaps are filled: with lab-01 and lab-03 taken, the next is lab-02). Throws when the
 * names would no longer fit the name rule.
 */
export function nextFreeNames(pattern: string, taken: (name: string) => boolean, count: number, from = 1): string[] {
  const out: string[] = [];
  for (let i = from; out.length < count; i++) {
    const name = patternName(pattern, i);
    if (!NAME_RE.test(name)) throw new UsageError(`name pattern "${pattern}" has no free name left (${name} is not a valid name)`);
    if (!taken(name)) out.push(name);
  }
  return out;
}
