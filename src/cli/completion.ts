/**
 * `xenroot completion bash|zsh`: prints a completion script for the commands, options and the
 * names of guests, clients, images and groups. Commands and options are taken from this very
 * program (so the script follows the CLI); names come at completion time from the hidden
 * `xenroot __complete KIND`, which reads the cached model. zsh runs the same function through
 * its bash compatibility (bashcompinit).
 *
 *   eval "$(xenroot completion bash)"      # or save it in /etc/bash_completion.d/xenroot
 *   eval "$(xenroot completion zsh)"       # or save it as _xenroot on $fpath
 */
import type { Command, Option } from 'commander';
import { UsageError } from '../sys/errors.js';
import type { CliContext } from './context.js';

/** What a command's positional arguments name (by command path); commands not listed take nothing known. */
const ARG_KINDS: Record<string, string> = {
  render: 'guests', show: 'guests', remove: 'guests', start: 'guests', stop: 'guests', status: 'guests',
  define: 'guests', undefine: 'guests', console: 'guests', mac: 'guests',
  'client show': 'clients', 'client set': 'clients', 'client remove': 'clients', 'client import': 'files',
  'image show': 'images', 'image remove': 'images', 'initrd build': 'images', 'initrd ls': 'files', test: 'images',
  'group show': 'groups', 'group set': 'groups', 'group remove': 'groups',
};

/** What an option's value names. */
const VALUE_KINDS: Record<string, string> = { '--image': 'images', '--group': 'groups', '-i': 'files', '--inventory': 'files', '--leases': 'files', '--log': 'files', '--out': 'files', '--file': 'files' };

const HIDDEN = new Set(['__complete', 'help']);

interface Tables {
  subs: Map<string, string[]>;
  opts: Map<string, string[]>;
  vals: Map<string, string[]>;
}

function flags(o: Option): string[] {
  return [o.short, o.long].filter((f): f is string => !!f);
}

function walk(cmd: Command, path: string, t: Tables): void {
  const key = path || '.';
  t.subs.set(key, cmd.commands.map((c) => c.name()).filter((n) => !HIDDEN.has(n)));
  const options = cmd.options as readonly Option[];
  t.opts.set(key, [...options.flatMap(flags), '--help']);
  t.vals.set(key, options.filter((o) => o.required || o.optional).flatMap(flags));
  for (const c of cmd.commands) if (!HIDDEN.has(c.name())) walk(c, path ? `${path} ${c.name()}` : c.name(), t);
}

const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

function assoc(name: string, m: Map<string, string[]> | Record<string, string>): string {
  const entries = m instanceof Map ? [...m].map(([k, v]) => [k, v.join(' ')] as const) : Object.entries(m);
  return `typeset -gA ${name}\n${name}=(\n${entries.map(([k, v]) => `  [${q(k)}]=${q(v)}`).join('\n')}\n)`;
}

// Word matching and file names: bash splits unquoted words and has compgen; zsh splits with ${=...} and globs.
const BASH_HELPERS = `_xenroot_match() { local w; for w in $1; do [[ $w == "$2"* ]] && COMPREPLY+=("$w"); done; }
_xenroot_files() { COMPREPLY=($(compgen -f -- "$1")); }`;
const ZSH_HELPERS = `_xenroot_match() { local w; for w in \${=1}; do [[ $w == "$2"* ]] && COMPREPLY+=("$w"); done; }
_xenroot_files() { COMPREPLY=( $1*(N) ); }`;

/** The completion script for bash (zsh: the same through bashcompinit). */
export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const t: Tables = { subs: new Map(), opts: new Map(), vals: new Map() };
  walk(program, '', t);
  const body = `${assoc('_xenroot_subs', t.subs)}
${assoc('_xenroot_opts', t.opts)}
${assoc('_xenroot_vals', t.vals)}
${assoc('_xenroot_args', ARG_KINDS)}
${assoc('_xenroot_valkinds', VALUE_KINDS)}

${shell === 'bash' ? BASH_HELPERS : ZSH_HELPERS}
_xenroot() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" key="." inv="" w i skip=0 kind=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then
      skip=0
      [[ $prev == -i || $prev == --inventory ]] && inv="$w"
      continue
    fi
    if [[ $w == -* ]]; then
      if [[ " \${_xenroot_vals[$key]} \${_xenroot_vals[.]} " == *" $w "* ]]; then skip=1; prev="$w"; fi
      continue
    fi
    if [[ " \${_xenroot_subs[$key]} " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"; key="$cmdpath"; fi
  done
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  COMPREPLY=()
  if ((COMP_CWORD > 1)) && [[ $prev == -* && " \${_xenroot_vals[$key]} \${_xenroot_vals[.]} " == *" $prev "* ]]; then
    kind="\${_xenroot_valkinds[$prev]}"
    [[ -z $kind ]] && return 0
  elif [[ $cur == -* ]]; then
    _xenroot_match "\${_xenroot_opts[$key]} \${_xenroot_opts[.]}" "$cur"
    return 0
  elif [[ -n \${_xenroot_subs[$key]} ]]; then
    _xenroot_match "\${_xenroot_subs[$key]}" "$cur"
    return 0
  else
    kind="\${_xenroot_args[$key]}"
  fi
  case "$kind" in
    files) _xenroot_files "$cur" ;;
    guests|clients|images|groups) _xenroot_match "$(xenroot \${inv:+--inventory "$inv"} __complete "$kind" 2>/dev/null)" "$cur" ;;
  esac
  return 0
}
complete -F _xenroot xenroot
`;
  if (shell === 'bash') return `# bash completion for xenroot (xenroot completion bash)\n${body}`;
  return `#compdef xenroot
# zsh completion for xenroot (xenroot completion zsh): the bash function through zsh's bashcompinit
autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }
autoload -U +X bashcompinit && bashcompinit
${body}`;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('completion <shell>')
    .description('print the shell completion script: bash or zsh (eval "$(xenroot completion bash)")')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`shell "${shell}" is not valid: must be bash or zsh`);
      process.stdout.write(completionScript(program, shell));
    });

  // The names completion offers, one per line (fast: the cached model). Hidden: for the scripts only.
  program
    .command('__complete <kind>', { hidden: true })
    .action(async (kind: string) => {
      const { entryNames, NAME_KINDS } = await import('../ops/names.js');
      if (!(NAME_KINDS as readonly string[]).includes(kind)) throw new UsageError(`__complete "${kind}": must be one of ${NAME_KINDS.join(', ')}`);
      const names = await entryNames(await ctx.inventoryPath(), kind as (typeof NAME_KINDS)[number]);
      process.stdout.write(names.length ? `${names.join('\n')}\n` : '');
    });
}
