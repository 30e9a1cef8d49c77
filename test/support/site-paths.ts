/**
 * The system paths a site writes by default (revision store, boot dir, exports, DHCP, TFTP tree,
 * guest files under /etc/xen): a test of `--root DIR` takes their footprint before a command and
 * proves afterwards that nothing there was created or changed.
 */
import { lstatSync } from 'node:fs';
import { expect } from 'vitest';
import { footprint, footprintChanges } from './footprint.js';

const DIRS = ['/srv/xenroot', '/var/lib/xenroot', '/etc/exports.d', '/etc/dnsmasq.d', '/etc/xen', '/tftpboot'];
const FILES = ['/etc/exports'];

type SitePaths = { tree: ReturnType<typeof footprint>; files: (number | undefined)[] };

/** What is at the site's system paths now: every file under the directories, the single files' mtimes. */
export function sitePaths(): SitePaths {
  return { tree: footprint({ deep: DIRS, flat: [] }), files: FILES.map((f) => lstatSync(f, { throwIfNoEntry: false })?.mtimeMs) };
}

/** Fails the test, naming each path, when anything at the site's system paths is new or changed since `before`. */
export function expectSitePathsUntouched(before: SitePaths): void {
  const after = sitePaths();
  expect(footprintChanges(before.tree, after.tree, [])).toEqual([]);
  expect(Object.fromEntries(FILES.map((f, i) => [f, after.files[i]]))).toEqual(Object.fromEntries(FILES.map((f, i) => [f, before.files[i]])));
}
