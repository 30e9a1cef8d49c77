/**
 * Options declared once: a command's flags are a table of `opt(...)` entries (commander flags,
 * help text, the parser that checks and converts the value). `addOptions` registers them with
 * commander, and `optionValues` turns what commander parsed into the ops options object: keyed by
 * the table's own keys (which need not be commander's attribute names), paths made absolute,
 * options the user did not give left out (no `...(o.x ? { x } : {})` per flag). The type of the
 * values is derived from the table.
 *
 * One kind of bad value, one exit code: a value outside one of the inventory's enumerations
 * (`inventoryChoice`) is an InventoryError (exit 3), as the same value in the file is; anything else
 * a parser refuses is a UsageError (exit 2).
 */
import { Option, type Command } from 'commander';
import { InventoryError } from '../sys/errors.js';
import { flagPath } from '../inventory/paths.js';

export interface Opt<T> {
  /** commander flags: '--root <dir>', '-n, --dry-run', '--no-sync', '--target <t>'. */
  flags: string;
  help: string;
  /** Checks and converts one raw value (commander's argParser); `previous` for repeatable flags. */
  parse?: (raw: string, previous: T | undefined) => T;
  /** A path: made absolute against the working directory and normalised (inventory/paths.ts flagPath). */
  path?: boolean;
  /** A default commander shows in help and gives when the flag is absent. */
  default?: T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Table = Record<string, Opt<any>>;

/** The values of a table of options: each key optional, typed by its entry. */
export type Values<S extends Table> = { [K in keyof S]?: S[K] extends Opt<infer T> ? T : never };

/** A string-valued option (or T with a parser). */
export function opt<T = string>(o: Opt<T>): Opt<T> {
  return o;
}

/** A boolean flag ('--diff', '-n, --dry-run', or '--no-sync', which defaults to true). */
export function flag(flags: string, help: string): Opt<boolean> {
  return { flags, help };
}

/** Registers every option of `table` with `cmd`; returns `cmd`. */
export function addOptions(cmd: Command, table: Table): Command {
  for (const o of Object.values(table)) {
    const option = new Option(o.flags, o.help);
    if (o.parse) option.argParser(o.parse as (raw: string, previous: unknown) => unknown);
    if (o.default !== undefined) option.default(o.default);
    cmd.addOption(option);
  }
  return cmd;
}

/** What commander parsed for `table`, keyed by the table's keys, without the options not given. */
export function optionValues<S extends Table>(table: S, parsed: Record<string, unknown>): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(table)) {
    const v = parsed[new Option(o.flags).attributeName()];
    if (v === undefined) continue;
    out[key] = o.path && typeof v === 'string' ? flagPath(o.flags.replace(/^-\w, /, '').split(' ')[0] as string, v) : v;
  }
  return out as Values<S>;
}

/**
 * A value that must be one of an inventory enumeration (constants.ts): InventoryError (exit 3)
 * naming the flag, the value and the accepted ones, as the schema says for the same value in
 * the file.
 */
export function inventoryChoice<T extends string>(flagName: string, choices: readonly T[]): (raw: string) => T {
  return (raw: string) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InventoryError(`${flagName} ${JSON.stringify(raw)} is not valid: must be ${choices.join(', ')}`);
    return raw as T;
  };
}

/** A repeatable option whose every value (comma-separated lists too) is checked by `each`. */
export function repeatable<T>(each: (raw: string) => T): (raw: string, previous: T[] | undefined) => T[] {
  return (raw, previous) => [...(previous ?? []), ...raw.split(',').filter(Boolean).map(each)];
}

/**
 * `--root DIR`, one declaration for every command that writes files: each file it writes (or
 * removes) is under DIR, as DESTDIR does; what the files say names the site's own paths, and
 * nothing is reloaded.
 */
export const WRITE_ROOT = {
  root: opt({ flags: '--root <dir>', help: 'write every file under DIR, as DESTDIR does (the files name the site\'s own paths); no reloads', path: true }),
};
