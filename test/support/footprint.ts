/**
 * What a test run leaves on the machine outside its own temp dirs. The global setup takes a
 * snapshot before the run and compares after it: every file under /etc and /var/lib/xenroot
 * (path -> mtime in ms; directories by name only) and the names at the top of /tmp. Anything new
 * or changed fails the run, by name.
 *
 * ALLOWED lists what changes on this machine without the suite (each entry says why); nothing the
 * suite writes belongs in it.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** path -> mtime in ms ('dir' for a directory). */
type Footprint = Map<string, number | 'dir'>;

/** Recursive roots (every file's mtime) and flat roots (names only), absolute. */
const WATCHED = { deep: ['/etc', '/var/lib/xenroot'], flat: ['/tmp'] } as const;

/** Paths that change without the suite, with the reason. Matched against the whole path. */
const ALLOWED: { re: RegExp; why: string }[] = [
  // Another run of this suite on the same machine (several engineers share one): its own temp root,
  // removed by its own teardown. A CI or fresh machine has none.
  { re: /^\/tmp\/xenroot-suite-[^/]+$/, why: 'the private temp root of a concurrent run of this suite' },
  // vitest's own temp dir (a nanoid at the top of /tmp), made before the global setup gives the run
  // its private $TMPDIR, and removed by vitest itself after the teardown that checks.
  { re: /^\/tmp\/[A-Za-z0-9_-]{21}$/, why: "vitest's own temp dir, removed by vitest after the check" },
  // apt and dpkg of whoever installs packages meanwhile (setup.sh runs before the suite, not during it).
  { re: /^\/etc\/ld\.so\.cache$/, why: 'rewritten by ldconfig whenever a package is installed' },
];

function walk(dir: string, out: Footprint, deep: boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // missing or unreadable: nothing to compare
  }
  for (const n of names) {
    const p = join(dir, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // gone while we looked
    }
    if (st.isDirectory()) {
      out.set(p, 'dir');
      if (deep) walk(p, out, deep);
    } else out.set(p, deep ? st.mtimeMs : 0);
  }
}

/** Snapshot of WATCHED (or the given roots): reads only, follows no link. */
export function footprint(roots: { deep: readonly string[]; flat: readonly string[] } = WATCHED): Footprint {
  const out: Footprint = new Map();
  for (const r of roots.deep) {
    try {
      if (lstatSync(r).isDirectory()) out.set(r, 'dir');
    } catch {
      continue;
    }
    walk(r, out, true);
  }
  for (const r of roots.flat) walk(r, out, false);
  return out;
}

/** New and changed paths of `after` against `before`, minus ALLOWED, sorted ("new PATH" / "changed PATH"). */
export function footprintChanges(before: Footprint, after: Footprint, allowed = ALLOWED): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    if (allowed.some((a) => a.re.test(p))) continue;
    const was = before.get(p);
    if (was === undefined) out.push(`new ${p}`);
    else if (was !== v) out.push(`changed ${p}`);
  }
  return out.sort();
}
