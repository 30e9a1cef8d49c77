/**
 * What every command module gets: the global options, the inventory path, and one way to print
 * results (human text, or JSON with --json) on stdout. A command's options are declared in
 * cli/options.ts.
 */
import type { Command } from 'commander';
import { escapeForTerminal } from '../sys/terminal.js';

export interface GlobalOptions {
  inventory?: string;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  connect?: string;
  allowUnverifiedHostKey?: boolean;
}

export class CliContext {
  constructor(private readonly program: Command) {}

  get options(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get json(): boolean {
    return !!this.options.json;
  }

  /** --inventory PATH, else $XENROOT_INVENTORY, else /etc/xenroot/inventory.yaml. */
  async inventoryPath(): Promise<string> {
    const { inventoryPath } = await import('../inventory/paths.js');
    return inventoryPath(this.options.inventory);
  }

  /** Prints a result: JSON with --json, else the human rendering (if any). */
  print(result: unknown, human?: () => string): void {
    if (this.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else if (human) {
      // Names, host names and console text come from outside: nothing in them may drive the terminal.
      const text = escapeForTerminal(human());
      if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }
}

/** Aligns rows of cells into columns for human output. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/**
 * A node shown with where each value came from: one line per field, the group-able ones with
 * their source ("group lab", "site (site.bridge)", "default (site.bridge)", "own").
 */
export function explained(title: string, values: Record<string, unknown>, sources: Record<string, { from: string; group?: string; site?: string }>): string {
  const describe = (s: { from: string; group?: string; site?: string }) => (s.from === 'group' ? `group ${s.group}` : s.site ? `${s.from} (${s.site})` : s.from);
  const fields = [...new Set([...Object.keys(values), ...Object.keys(sources)])];
  const rows = fields.map((k) => [`  ${k}`, values[k] === undefined ? '-' : typeof values[k] === 'object' ? JSON.stringify(values[k]) : String(values[k]), sources[k] ? describe(sources[k]!) : '']);
  return `${title}\n${table(rows)}`;
}
