// Every command's options are declared once (cli/options.ts), and one kind of bad value gets one
// exit code and one message form whichever command takes it. The commands are not listed here:
// the test walks the very program the CLI runs, so a command added later is held to the rule too.
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { declarationOf, type Kind } from '../../src/cli/options.js';
import { isXenrootError } from '../../src/sys/errors.js';
import { xenroot } from '../support/cli.js';

/** A bad value of each kind that is checked when the command line is parsed, and the exit code it must give. */
const BAD: Partial<Record<Kind, { value: string; code: number }>> = {
  integer: { value: 'many', code: 2 },
  seconds: { value: 'soon', code: 2 },
  choice: { value: 'nope', code: 2 },
  regex: { value: '(', code: 2 },
  'model-choice': { value: 'nope', code: 3 },
  path: { value: 'a/../b', code: 3 },
};

interface Case {
  command: string[];
  args: string[];
  option: Option;
  kind: Kind;
}

function* walk(cmd: Command, path: string[] = []): Generator<{ cmd: Command; path: string[] }> {
  for (const sub of cmd.commands) {
    const p = [...path, sub.name()];
    yield { cmd: sub, path: p };
    yield* walk(sub, p);
  }
}

const program = buildProgram();
const commands = [...walk(program)];
const cases: Case[] = commands.flatMap(({ cmd, path }) =>
  cmd.options.flatMap((option) => {
    const kind = declarationOf(option)?.kind;
    if (!kind || !BAD[kind]) return [];
    // A value for each required argument, so that nothing but the option can be refused.
    const args = cmd.registeredArguments.filter((a) => a.required).map(() => 'x');
    return [{ command: path, args, option, kind }];
  }),
);

/** Parses one command line in-process with the program users run; an action that would start fails the test instead. */
async function refusal(argv: string[]): Promise<unknown> {
  const p = buildProgram();
  p.hook('preAction', () => {
    throw new Error(`accepted: xenroot ${argv.join(' ')}`);
  });
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (err) {
    return err;
  }
  return new Error(`accepted: xenroot ${argv.join(' ')}`);
}

describe('options declared once', () => {
  it('every option of every command comes from a declaration table (cli/options.ts addOptions)', () => {
    const undeclared = commands.flatMap(({ cmd, path }) => cmd.options.filter((o) => !declarationOf(o)).map((o) => `${path.join(' ')} ${o.flags}`));
    expect(undeclared).toEqual([]);
  });

  it('the walk finds options of every checked kind, on many commands', () => {
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(Object.keys(BAD)));
    expect(new Set(cases.map((c) => c.command.join(' '))).size).toBeGreaterThan(15);
  });
});

describe('one kind of bad value, one exit code and a one-line message naming the value and what is accepted', () => {
  it.each(Object.keys(BAD) as Kind[])('every %s option of every command', async (kind) => {
    const bad = BAD[kind]!;
    const seen: string[] = [];
    for (const c of cases.filter((x) => x.kind === kind)) {
      const flag = c.option.long as string;
      const argv = [...c.command, ...c.args, flag, bad.value];
      const err = await refusal(argv);
      const where = `xenroot ${argv.join(' ')}`;
      expect(isXenrootError(err), `${where}: ${String(err)}`).toBe(true);
      const e = err as Error & { exitCode: number };
      expect(e.exitCode, where).toBe(bad.code);
      expect(e.message, where).not.toContain('\n');
      expect(e.message.startsWith(`${flag} ${JSON.stringify(bad.value)} `), `${where}: ${e.message}`).toBe(true);
      expect(e.message, where).toMatch(/(is not valid: must be|: give) \S/);
      seen.push(c.command.join(' '));
    }
    expect(seen.length).toBeGreaterThan(0);
  });

  it('an option that takes the same values is the same kind wherever it is declared (same list, same exit code)', () => {
    const byValues = new Map<string, Set<Kind>>();
    for (const c of cases.filter((x) => x.kind === 'choice' || x.kind === 'model-choice')) {
      const key = (declarationOf(c.option)?.choices ?? []).join(',');
      expect(key, c.option.flags).not.toBe('');
      byValues.set(key, (byValues.get(key) ?? new Set()).add(c.kind));
    }
    for (const [key, kinds] of byValues) expect([...kinds], key).toHaveLength(1);
  });

  it('the built CLI prints one line naming the value and exits with the kind\'s code, one command per kind', async () => {
    for (const [kind, bad] of Object.entries(BAD) as [Kind, { value: string; code: number }][]) {
      const c = cases.find((x) => x.kind === kind)!;
      const flag = c.option.long as string;
      const r = await xenroot([...c.command, ...c.args, flag, bad.value], { env: { XENROOT_INVENTORY: '/nonexistent/inventory.yaml' } });
      expect(r.code, `${kind}: ${r.stderr}`).toBe(bad.code);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0], r.stderr).toContain(`xenroot: ${flag} ${JSON.stringify(bad.value)} `);
      expect(lines.filter((l) => !l.startsWith('  hint: ')), r.stderr).toHaveLength(1);
    }
  });
});
