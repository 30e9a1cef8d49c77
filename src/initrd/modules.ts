/**
 * Kernel modules for an initrd: names resolved through modules.dep (and modules.alias for aliases
 * such as xennet), dependencies closed over, returned in load order (every module after all of
 * its dependencies). Modules built into the kernel (modules.builtin) need no file and are skipped.
 */
import { join, relative } from 'node:path';
import { InitrdError } from '../sys/errors.js';
import { imageRelPath, isImageFile, readImageFile } from '../image/image-file.js';

/** The most xenroot reads of one module index file (modules.dep of a distro kernel is under 1 MB). */
const INDEX_MAX_BYTES = 64 * 1024 * 1024;

export interface ModuleIndex {
  modulesDir: string;
  /** The root its files are read within (the image's root; default modulesDir itself). */
  root?: string;
  /** module name (underscores) -> path relative to modulesDir */
  paths: Map<string, string>;
  /** module name -> dependency names, as modules.dep lists them */
  deps: Map<string, string[]>;
  /** names built into the kernel */
  builtin: Set<string>;
  /** alias -> module names */
  aliases: Map<string, string[]>;
}

export interface ResolvedModule {
  name: string;
  /** Path relative to /lib/modules/KVER, e.g. kernel/fs/nfs/nfs.ko (possibly .ko.xz / .ko.zst). */
  path: string;
}

/** Canonical module name of a name or path: basename, no .ko[.xz|.zst|.gz], '-' as '_'. */
export function moduleName(nameOrPath: string): string {
  const base = nameOrPath.split('/').pop() ?? nameOrPath;
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** The image-relative path of `name` in the index's modules directory (for readImageFile(index.root, ...)). */
export function moduleFile(index: Pick<ModuleIndex, 'modulesDir' | 'root'>, name: string): string {
  return relative(index.root ?? index.modulesDir, join(index.modulesDir, name)) || '.';
}

/**
 * Reads modules.dep (required), modules.builtin and modules.alias of `modulesDir`. Every file is
 * read within `root` (the image's root; default modulesDir): links never lead out of the image,
 * and a modules.dep entry that is absolute or climbs out with `..` is an ImageError naming it.
 * InitrdError when there is no modules.dep.
 */
export async function loadModuleIndex(modulesDir: string, root: string = modulesDir): Promise<ModuleIndex> {
  const at = { modulesDir, root };
  const depFile = join(modulesDir, 'modules.dep');
  if (!(await isImageFile(root, moduleFile(at, 'modules.dep')))) {
    throw new InitrdError(`${depFile} does not exist`, {
      hint: `run depmod -b ROOT KVER for the image (a kernel unpacked with dpkg -x has no modules.dep)`,
    });
  }
  const read = async (name: string): Promise<string | undefined> => ((await isImageFile(root, moduleFile(at, name))) ? (await readImageFile(root, moduleFile(at, name), { maxBytes: INDEX_MAX_BYTES })).toString('utf8') : undefined);
  const paths = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const line of ((await read('modules.dep')) ?? '').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = imageRelPath(line.slice(0, colon).trim(), `modules.dep of ${modulesDir}`);
    const name = moduleName(path);
    paths.set(name, path);
    deps.set(name, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map((d) => moduleName(imageRelPath(d, `modules.dep of ${modulesDir}`))));
  }
  const builtin = new Set<string>();
  for (const line of ((await read('modules.builtin')) ?? '').split('\n')) if (line.trim()) builtin.add(moduleName(line.trim()));
  const aliases = new Map<string, string[]>();
  {
    for (const line of ((await read('modules.alias')) ?? '').split('\n')) {
      const m = /^alias\s+(\S+)\s+(\S+)/.exec(line);
      if (!m || /[*?[]/.test(m[1]!)) continue;
      const list = aliases.get(m[1]!) ?? [];
      list.push(moduleName(m[2]!));
      aliases.set(m[1]!, list);
    }
  }
  return { modulesDir, root, paths, deps, builtin, aliases };
}

export interface ResolveResult {
  modules: ResolvedModule[];
  /** Requested names that are built into the kernel (nothing to load). */
  builtin: string[];
}

/**
 * Resolves the wanted modules (names or aliases) and their dependencies into load order.
 * A name that is neither a module file nor built in throws InitrdError, unless listed in `optional`.
 */
export function resolveModules(index: ModuleIndex, wanted: string[], optional: string[] = []): ResolveResult {
  const optionalSet = new Set(optional.map(moduleName));
  const order: ResolvedModule[] = [];
  const builtin: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: string[]): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new InitrdError(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const path = index.paths.get(name);
    if (!path) {
      if (index.builtin.has(name)) {
        done.add(name);
        if (!builtin.includes(name)) builtin.push(name);
        return;
      }
      throw new InitrdError(`module ${name}${chain.length ? ` (needed by ${chain[chain.length - 1]})` : ''} is not in ${index.modulesDir}`, {
        hint: 'check the module name and the kernel version (modules.dep, modules.builtin)',
      });
    }
    visiting.add(name);
    for (const d of index.deps.get(name) ?? []) visit(d, [...chain, name]);
    visiting.delete(name);
    done.add(name);
    order.push({ name, path });
  };
  for (const raw of wanted) {
    let name = moduleName(raw);
    if (!index.paths.has(name) && !index.builtin.has(name)) {
      const target = index.aliases.get(raw)?.[0] ?? index.aliases.get(name)?.[0];
      if (target) name = target;
    }
    if (!index.paths.has(name) && !index.builtin.has(name) && optionalSet.has(moduleName(raw))) continue;
    visit(name, []);
  }
  return { modules: order, builtin };
}
