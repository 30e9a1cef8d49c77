/**
 * Kernel modules for an initrd: names resolved through modules.dep (and modules.alias for aliases
 * such as xennet), dependencies closed over, returned in load order (every module after all of
 * its dependencies). Modules built into the kernel (modules.builtin) need no file and are skipped.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InitrdError } from '../sys/errors.js';

export interface ModuleIndex {
  modulesDir: string;
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

export async function loadModuleIndex(modulesDir: string): Promise<ModuleIndex> {
  const depFile = join(modulesDir, 'modules.dep');
  if (!existsSync(depFile)) {
    throw new InitrdError(`${depFile} does not exist`, {
      hint: `run depmod -b ROOT KVER for the image (a kernel unpacked with dpkg -x has no modules.dep)`,
    });
  }
  const paths = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(depFile, 'utf8')).split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const name = moduleName(path);
    paths.set(name, path);
    deps.set(name, line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName));
  }
  const builtin = new Set<string>();
  const builtinFile = join(modulesDir, 'modules.builtin');
  if (existsSync(builtinFile)) {
    for (const line of (await readFile(builtinFile, 'utf8')).split('\n')) if (line.trim()) builtin.add(moduleName(line.trim()));
  }
  const aliases = new Map<string, string[]>();
  const aliasFile = join(modulesDir, 'modules.alias');
  if (existsSync(aliasFile)) {
    for (const line of (await readFile(aliasFile, 'utf8')).split('\n')) {
      const m = /^alias\s+(\S+)\s+(\S+)/.exec(line);
      if (!m || /[*?[]/.test(m[1]!)) continue;
      const list = aliases.get(m[1]!) ?? [];
      list.push(moduleName(m[2]!));
      aliases.set(m[1]!, list);
    }
  }
  return { modulesDir, paths, deps, builtin, aliases };
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
