/**
 * `xenroot doctor`: is this server ready to boot the site in the inventory? Runs every check of
 * ops/steps/doctor-checks.ts (DHCP, TFTP, EFI loaders, boot service, NFS server and its exports,
 * free space, guest bridge, hypervisor hosts) and reports one finding each. It changes nothing;
 * with `fix` it installs the Debian packages the site needs that are missing (apt-get), and
 * nothing else. virt-host-validate is the model.
 */
import { CHECKS, type CheckContext, type Finding } from './steps/doctor-checks.js';
import { loadInventory } from './steps/store.js';
import { installPackages, missingPackages } from '../sys/debian-packages.js';

export type { Finding } from './steps/doctor-checks.js';

export interface DoctorOptions {
  /** A directory standing for / for every file read (what `sync --root DIR` wrote). Default /. */
  root?: string;
  /** The NFS server's TCP port. Default 2049. */
  nfsPort?: number;
  /** Free bytes below which the revisions' filesystem FAILs (10x: WARN). Default 1 GiB. */
  minFreeBytes?: number;
  /** Install the missing packages (apt-get install) after the checks; never without the caller's consent. */
  install?: boolean;
  /** Called with the packages just before apt-get runs (to say what will be installed first). */
  beforeInstall?: (packages: string[]) => void;
}

export interface DoctorResult {
  findings: Finding[];
  /** The Debian packages the site's parts need that dpkg does not list as installed. */
  missingPackages: string[];
  /** The packages installed by this run (only with `install`). */
  installed: string[];
  /** true when any finding is FAIL. */
  failed: boolean;
}

/**
 * Checks the site of `inventoryFile`. Reads the inventory without its lock and writes nothing,
 * unless `install` is set and packages are missing: then `apt-get install` of exactly
 * `missingPackages` (a DependencyError when it fails). Throws InventoryError for an inventory
 * that does not load, DependencyError when dpkg-query is missing.
 */
export async function doctor(inventoryFile: string, o: DoctorOptions = {}): Promise<DoctorResult> {
  const inv = await loadInventory(inventoryFile);
  const ctx: CheckContext = { data: inv.data, root: o.root ?? '/', nfsPort: o.nfsPort ?? 2049, minFreeBytes: o.minFreeBytes ?? 2 ** 30 };
  const needed = [...new Set(CHECKS.flatMap((c) => c.packages(ctx)))];
  const missing = await missingPackages(needed);
  const installed: string[] = [];
  if (o.install && missing.length) {
    o.beforeInstall?.(missing);
    await installPackages(missing);
    installed.push(...missing);
  }
  // After an install the checks see the server as it is now.
  const findings: Finding[] = [];
  for (const c of CHECKS) findings.push(await c.run(ctx));
  return { findings, missingPackages: missing.filter((p) => !installed.includes(p)), installed, failed: findings.some((f) => f.status === 'FAIL') };
}
