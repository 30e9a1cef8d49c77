/**
 * The per-node switch trees that the plan defines (plan.ts: nodeSwitch, CLIENT_SWITCH_DIR,
 * GUEST_SWITCH_DIR), walked after a killed run: temp links and staging directories are swept; and
 * by `image prune`: file sets that no switch link names are removed.
 */
import { lstatSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sweepTempFiles } from '../sys/atomic.js';
import { log } from '../sys/log.js';
import { guestFiles } from '../inventory/paths.js';
import type { InventoryData } from '../inventory/schema.js';
import { under } from './manifest.js';
import { CLIENT_SWITCH_DIR, GUEST_SWITCH_DIR } from './plan.js';

/**
 * Removes what a killed run left of node switches: temp links and staging directories (a file
 * set being written, never switched to), in the clients' switch tree under the TFTP root and in
 * every guest's switch directory. `root`: the `--root DIR` every system path is written under.
 * Call with the inventory's lock held.
 */
export function sweepSwitches(data: InventoryData, inventoryFile: string, root: string | undefined): void {
  const tftp = under(root, data.site.tftpRoot.replace(/\/+$/, ''));
  const dirs = new Set([join(tftp, CLIENT_SWITCH_DIR), join(tftp, CLIENT_SWITCH_DIR, 'entries')]);
  for (const g of Object.keys(data.guests)) dirs.add(join(under(root, guestFiles(data, inventoryFile, g).dir), GUEST_SWITCH_DIR));
  for (const d of dirs) for (const t of sweepTempFiles(d)) log().warn(`removed ${t}, left by an interrupted run`);
}

/**
 * Removes the clients' file sets (TFTP_ROOT/nodes/entries/HASH) that no switch link names any
 * more: those a rollout or sync moved every node away from (the apply keeps them for a way back),
 * and those of a run killed before its manifest was written. `image prune` calls it. Call with the
 * inventory's lock held.
 */
export function removeOrphanSets(data: InventoryData, root: string | undefined): void {
  const nodes = join(under(root, data.site.tftpRoot.replace(/\/+$/, '')), CLIENT_SWITCH_DIR);
  let names: string[];
  try {
    names = readdirSync(nodes);
  } catch {
    return;
  }
  const named = new Set<string>();
  for (const n of names) {
    const st = lstatSync(join(nodes, n), { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      try {
        named.add(readlinkSync(join(nodes, n)).replace(/^entries\//, ''));
      } catch {
        /* gone */
      }
    }
  }
  let sets: string[] = [];
  try {
    sets = readdirSync(join(nodes, 'entries'));
  } catch {
    return;
  }
  for (const s of sets) {
    if (named.has(s) || s.startsWith('.')) continue;
    rmSync(join(nodes, 'entries', s), { recursive: true, force: true });
    log().debug({ set: s }, 'removed a file set no node names');
  }
}
