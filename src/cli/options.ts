/**
 * Options declared once: a command's flags are a table of entries (commander flags, help text,
 * the kind of value and the parser that checks and converts it). `addOptions` registers them with
 * commander, and `optionValues` turns what commander parsed into the ops options object: keyed by
 * the table's own keys (which need not be commander's attribute names, and are the ops options'
 * names), options the user did not give left out (no `...(o.x ? { x } : {})` per flag). The type
 * of the values is derived from the table.
 *
 * One kind of bad value, one exit code and one message, whichever command takes it; the kind is
 * declared by the constructor used, and test/cli/option-kinds.test.ts walks every command to hold
 * each kind to its code:
 *  - `integer`, `seconds`, `choice` (a command's own list), `regex`: UsageError (exit 2),
 *    `--flag "VALUE" is not valid: must be ...`;
 *  - `modelChoice` (a value of one of the inventory's enumerations, inventory/constants.ts):
 *    InventoryError (exit 3), as the same value in the file is;
 *  - `path`: made absolute against the working directory; a ".." after a directory is an
 *    InventoryError (exit 3), as flagPath says for every path flag (inventory/paths.ts).
 * A value the inventory stores (`create --memory`, `group add --image`) is `text` here and is
 * checked by the schema's own field in the ops layer (inventory/schema.ts flagValue, exit 3).
 */
import { Option, type Command } from 'commander';
import { InventoryError, UsageError } from '../sys/errors.js';
import { flagPath } from '../inventory/paths.js';

/** The kinds of option values; each kind is refused with one exit code and one message form. */
export type Kind = 'text' | 'flag' | 'list' | 'integer' | 'seconds' | 'choice' | 'model-choice' | 'regex' | 'path';

export interface Opt<T> {
  /** commander flags: '--root <dir>', '-n, --dry-run', '--no-sync', '--target <t>', '--log-tail [n]'. */
  flags: string;
  help: string;
  /** What kind of value it takes (see above); `opt` gives 'text'. */
  kind: Kind;
  /** Checks and converts one raw value (commander's argParser); `previous` for repeatable flags. */
  parse?: (raw: string, previous: T | undefined) => T;
  /** A default commander shows in help and gives when the flag is absent. */
  default?: T;
  /** The accepted values of a `choice` or `modelChoice`. */
  choices?: readonly string[];
  /** commander's mandatory option: the command refuses to run without it (exit 2). */
  required?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Table = Record<string, Opt<any>>;

/** The values of a table of options: each key optional, typed by its entry. */
export type Values<S extends Table> = { [K in keyof S]?: S[K] extends Opt<infer T> ? T : never };

/** The long flag of `flags` ('-n, --dry-run' -> '--dry-run'), as messages name it. */
function flagName(flags: string): string {
  return /--[\w-]+/.exec(flags)?.[0] ?? flags;
}

/** The one message of a refused value: `--flag "VALUE" is not valid: must be ACCEPTED`. */
function notValid(flags: string, raw: string, accepted: string): string {
  return `${flagName(flags)} ${JSON.stringify(raw)} is not valid: must be ${accepted}`;
}

/** A text option (or T with a parser of the command's own; kind 'text' unless given). */
export function opt<T = string>(o: Omit<Opt<T>, 'kind'> & { kind?: Kind }): Opt<T> {
  return { kind: 'text', ...o };
}

/** A boolean flag ('--diff', '-n, --dry-run', or '--no-sync', which defaults to true). */
export function flag(flags: string, help: string): Opt<boolean> {
  return { flags, help, kind: 'flag' };
}

/** A whole number from `min` to `max`; anything else a UsageError (exit 2). */
export function integer(flags: string, help: string, min: number, max: number, dflt?: number): Opt<number> {
  return {
    flags,
    help,
    kind: 'integer',
    parse: (raw) => {
      if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(notValid(flags, raw, `a whole number from ${min} to ${max}`));
      return Number(raw);
    },
    ...(dflt !== undefined ? { default: dflt } : {}),
  };
}

/** Seconds (whole or fractional, from 0.1 to 86400), given to the command in milliseconds; else a UsageError (exit 2). */
export function seconds(flags: string, help: string): Opt<number> {
  return {
    flags,
    help,
    kind: 'seconds',
    parse: (raw) => {
      if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0 || Number(raw) > 86_400) throw new UsageError(notValid(flags, raw, 'a number of seconds from 0.1 to 86400'));
      return Math.round(Number(raw) * 1000);
    },
  };
}

/** One of the command's own `choices` (an output format, an import format); else a UsageError (exit 2). */
export function choice<T extends string>(flags: string, help: string, choices: readonly T[], dflt?: T): Opt<T> {
  return {
    flags,
    help,
    kind: 'choice',
    choices,
    parse: (raw) => {
      if (!(choices as readonly string[]).includes(raw)) throw new UsageError(notValid(flags, raw, `one of ${choices.join(', ')}`));
      return raw as T;
    },
    ...(dflt !== undefined ? { default: dflt } : {}),
  };
}

/**
 * A value of one of the inventory's enumerations (inventory/constants.ts: initrd builders, boot
 * and domain targets): else an InventoryError (exit 3) naming the flag, the value and the
 * accepted ones, as the schema says for the same value in the file.
 */
export function modelChoice<T extends string>(flags: string, help: string, choices: readonly T[], dflt?: T): Opt<T> {
  return { flags, help, kind: 'model-choice', choices, parse: inventoryChoice(flagName(flags), choices), ...(dflt !== undefined ? { default: dflt } : {}) };
}

/** A repeatable `modelChoice` (comma-separated lists too). */
export function modelChoices<T extends string>(flags: string, help: string, choices: readonly T[]): Opt<T[]> {
  return { flags, help, kind: 'model-choice', choices, parse: repeatable(inventoryChoice(flagName(flags), choices)) };
}

/** A regular expression (with `reFlags`); a bad one is a UsageError (exit 2) naming it and the parser's reason. */
export function regex(flags: string, help: string, reFlags = ''): Opt<RegExp> {
  return {
    flags,
    help,
    kind: 'regex',
    parse: (raw) => {
      try {
        return new RegExp(raw, reFlags);
      } catch (err) {
        throw new UsageError(notValid(flags, raw, `a regular expression (${(err as Error).message})`));
      }
    },
  };
}

/**
 * A path, made absolute against the working directory (inventory/paths.ts flagPath: a ".." after
 * a directory is an InventoryError, exit 3). `repeat` makes it repeatable (no comma splitting: a
 * path may hold commas).
 */
export function path(flags: string, help: string, repeat: 'repeatable'): Opt<string[]>;
export function path(flags: string, help: string): Opt<string>;
export function path(flags: string, help: string, repeat?: 'repeatable'): Opt<string> | Opt<string[]> {
  const one = (raw: string) => flagPath(flagName(flags), raw);
  if (repeat) return { flags, help, kind: 'path', parse: (raw: string, previous: string[] | undefined) => [...(previous ?? []), one(raw)] };
  return { flags, help, kind: 'path', parse: one };
}

/** A repeatable text option; comma-separated lists are split unless `keepCommas` (`--file DEST=SOURCE`). */
export function list(flags: string, help: string, keepCommas?: 'keep-commas'): Opt<string[]> {
  return { flags, help, kind: 'list', parse: keepCommas ? (raw, previous) => [...(previous ?? []), raw] : repeatable((p) => p) };
}

const declared = new WeakMap<Option, Opt<unknown>>();

/** The declaration an option of the program was registered from (undefined: commander's own, such as --help). */
export function declarationOf(option: Option): Opt<unknown> | undefined {
  return declared.get(option);
}

/** Registers every option of `table` with `cmd`; returns `cmd`. */
export function addOptions(cmd: Command, table: Table): Command {
  for (const o of Object.values(table)) {
    const option = new Option(o.flags, o.help);
    if (o.parse) option.argParser(o.parse as (raw: string, previous: unknown) => unknown);
    if (o.default !== undefined) option.default(o.default);
    if (o.required) option.makeOptionMandatory();
    declared.set(option, o);
    cmd.addOption(option);
  }
  return cmd;
}

/** What commander parsed for `table`, keyed by the table's keys, without the options not given. */
export function optionValues<S extends Table>(table: S, parsed: Record<string, unknown>): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(table)) {
    const v = parsed[new Option(o.flags).attributeName()];
    if (v !== undefined) out[key] = v;
  }
  return out as Values<S>;
}

/**
 * A value that must be one of an inventory enumeration (constants.ts): InventoryError (exit 3)
 * naming the flag, the value and the accepted ones, as the schema says for the same value in
 * the file.
 */
function inventoryChoice<T extends string>(name: string, choices: readonly T[]): (raw: string) => T {
  return (raw: string) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InventoryError(`${name} ${JSON.stringify(raw)} is not valid: must be ${choices.join(', ')}`);
    return raw as T;
  };
}

/** A repeatable option whose every value (comma-separated lists too) is checked by `each`. */
function repeatable<T>(each: (raw: string) => T): (raw: string, previous: T[] | undefined) => T[] {
  return (raw, previous) => [...(previous ?? []), ...raw.split(',').filter(Boolean).map(each)];
}

/**
 * `--root DIR`, one declaration for every command that writes files: each file it writes (or
 * removes) is under DIR, as DESTDIR does; what the files say names the site's own paths, and
 * nothing is reloaded.
 */
export const WRITE_ROOT = {
  root: path('--root <dir>', 'write every file under DIR, as DESTDIR does (the files name the site\'s own paths); no reloads'),
};

/** As `sync --no-reload`: the files are written, exportfs and the DHCP server are left alone. */
export const NO_RELOAD = { reload: flag('--no-reload', 'do not run exportfs -r or restart the DHCP server') };

/** `-n, --dry-run` and `--diff` of the commands that plan file changes. */
export const PLAN_VIEW = {
  dryRun: flag('-n, --dry-run', 'show what would change; touch nothing'),
  diff: flag('--diff', 'print a unified diff of every file change'),
};

/**
 * The identity of a node (`create`, `set`, `client add`, `client set`): host name, static
 * address, gateway, per-node files; each value checked by the inventory field it is stored in.
 * `editing` gives the help of the commands that change a node ("" removes a value).
 */
export function identityOptions(node: 'guest' | 'client', editing: boolean) {
  return editing
    ? {
        hostname: opt({ flags: '--hostname <name>', help: `host name ("" for the ${node}'s name)` }),
        address: opt({ flags: '--address <ipv4[/prefix]>', help: 'static IPv4 address ("" to remove)' }),
        gateway: opt({ flags: '--gateway <ipv4>', help: 'default gateway ("" to remove)' }),
        files: list('--file <dest=source>', 'per-node file DEST from SOURCE; DEST= removes it (repeatable)', 'keep-commas'),
      }
    : {
        hostname: opt({ flags: '--hostname <name>', help: `host name (default: the ${node}'s name)` }),
        address: opt({ flags: '--address <ipv4[/prefix]>', help: node === 'client' ? 'static IPv4 address (its DHCP reservation; set in the initrd when the prefix is known)' : 'static IPv4 address' }),
        gateway: opt({ flags: '--gateway <ipv4>', help: 'default gateway with --address' }),
        files: list('--file <dest=source>', `per-node file: DEST on the ${node} gets the content of SOURCE (repeatable)`, 'keep-commas'),
      };
}
