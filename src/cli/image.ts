import type { Command } from 'commander';
import { BOOT_TARGETS, INITRD_BUILDERS } from '../inventory/constants.js';
import { table, type CliContext } from './context.js';
import { addOptions, flag, integer, list, modelChoice, modelChoices, NO_RELOAD, opt, optionValues, path, WRITE_ROOT } from './options.js';
import { UsageError } from '../sys/errors.js';
import { log } from '../sys/log.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** `image add`: each value is checked by the inventory field it is stored in (exit 3). */
const ADD = {
  root: opt({ flags: '--root <dir>', help: 'the image as a directory (exported over NFS)' }),
  file: opt({ flags: '--file <img>', help: 'the image as a loop image file (ext4)' }),
  kver: opt({ flags: '--kver <ver>', help: 'kernel version to boot (default: the newest found in the image)' }),
  export: opt({ flags: '--export <path>', help: 'NFS path clients mount (default: the directory)' }),
  nfsVersion: opt({ flags: '--nfs-version <v>', help: 'NFS version for the root: 3 or 4' }),
  nfsOptions: opt({ flags: '--nfs-options <opts>', help: 'NFS mount options for the root, comma-separated (e.g. port=2049,vers=4.2)' }),
  initrdBuilder: modelChoice('--initrd-builder <builder>', `${INITRD_BUILDERS.join(', ')} (default builtin)`, INITRD_BUILDERS),
  readyPattern: opt({ flags: '--ready-pattern <regex>', help: 'console line that shows the image is up (for `xenroot test`)' }),
  append: opt({ flags: '--append <args>', help: 'extra kernel arguments for every machine of this image' }),
};

const BOOTSTRAP = {
  suite: opt({ flags: '--suite <suite>', help: 'Debian suite', default: 'bookworm' }),
  packages: list('--packages <list>', 'further packages (comma-separated or repeated)'),
  builder: modelChoice('--builder <builder>', `the image's initrd builder: ${INITRD_BUILDERS.join(', ')} (default builtin)`, INITRD_BUILDERS),
  rootPassword: opt({ flags: '--root-password <pw>', help: 'refused: a password on the command line is visible in ps and shell history' }),
  rootPasswordFile: opt({ flags: '--root-password-file <file>', help: 'let root log in with the password on the first line of FILE (0600 expected)' }),
  rootPasswordStdin: flag('--root-password-stdin', 'let root log in with the password on the first line of standard input'),
  rootPasswordPrompt: flag('--root-password-prompt', 'let root log in with a password typed at a prompt (echo off)'),
  autologin: flag('--autologin', 'log root in automatically on the serial consoles (ttyS0, hvc0)'),
  dir: opt({ flags: '--dir <dir>', help: 'where the image goes (default: the site\'s exportRoot/NAME)' }),
  mirror: opt({ flags: '--mirror <url>', help: 'Debian mirror (default: mmdebstrap\'s, from this host\'s apt sources)' }),
};

/** Options whose meaning moved: refused with a one-line hint naming the new one. */
const MOVED = { file: '--from-file IMG', syncRoot: '--root DIR' } as const;

const PUBLISH = {
  from: path('--from <dir>', 'publish from this directory (default: the image\'s)'),
  fromFile: path('--from-file <img>', 'publish from this loop image file (default: the image\'s)'),
  ...WRITE_ROOT,
  ...NO_RELOAD,
  file: opt({ flags: '--file <img>', help: `refused: use ${MOVED.file}` }),
  targets: modelChoices('--target <target>', `also stage the initrd for this target (${BOOT_TARGETS.join(', ')}; repeatable)`, BOOT_TARGETS),
  builder: modelChoice('--initrd-builder <builder>', `${INITRD_BUILDERS.join(', ')} (default: the image's, else builtin)`, INITRD_BUILDERS),
  dryRun: flag('-n, --dry-run', 'count what would be copied and show the file changes; publish nothing'),
  diff: flag('--diff', 'print a unified diff of every generated file change'),
  sync: flag('--no-sync', 'do not write the generated files (exports, TFTP tree) now'),
  syncRoot: opt({ flags: '--sync-root <dir>', help: `refused: use ${MOVED.syncRoot}` }),
};

const SHOW = { all: flag('--all', 'also the pruned revisions') };

const PRUNE = {
  keep: integer('--keep <k>', 'keep the K newest revisions as well (default 1)', 0, 1_000_000),
  dryRun: flag('-n, --dry-run', 'show what would be removed; touch nothing'),
  diff: flag('--diff', 'print a unified diff of every generated file change'),
  ...WRITE_ROOT,
  ...NO_RELOAD,
  syncRoot: opt({ flags: '--sync-root <dir>', help: `refused: use ${MOVED.syncRoot}` }),
};

/**
 * Refuses the options whose meaning moved (UsageError naming the new one), and a `--root DIR`
 * that holds a root filesystem: `image publish --root DIR` once meant "publish from DIR", and
 * writing the site's files into an image tree would spoil it.
 */
function refuseMoved(o: { file?: string; syncRoot?: string; root?: string }): void {
  if (o.file !== undefined) throw new UsageError(`--file is now ${MOVED.file} (--root DIR writes every file under DIR)`);
  if (o.syncRoot !== undefined) throw new UsageError(`--sync-root is now ${MOVED.syncRoot}, which writes every file under DIR, not only the generated ones`);
  if (o.root !== undefined && ['etc/os-release', 'usr/lib/os-release'].some((f) => existsSync(join(o.root as string, f))))
    throw new UsageError(`--root ${o.root} holds a root filesystem: --root DIR writes every file under DIR; to publish from that directory give --from ${o.root}`);
}

export function register(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('manage root filesystem images');

  addOptions(image.command('add <name>').description('add an image: a directory or a loop image file holding a root filesystem'), ADD).action(async (name: string, parsed: Record<string, unknown>) => {
    const { addImage } = await import('../ops/images.js');
    const r = await addImage(await ctx.inventoryPath(), { name, ...optionValues(ADD, parsed) });
    ctx.print(r, () => `added image ${name} (kernel ${r.image.kver}${r.kverDetected ? ', found in the image' : ''})`);
  });

  addOptions(image.command('bootstrap <name>').description('make a real Debian root directory with mmdebstrap, ready for an NFS root, and add it as an image'), BOOTSTRAP).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const { bootstrapImageCmd } = await import('../ops/bootstrap-image.js');
      const { rootPassword: onArgv, rootPasswordFile, rootPasswordStdin, rootPasswordPrompt, ...o } = optionValues(BOOTSTRAP, parsed);
      if (onArgv !== undefined) throw new UsageError('--root-password PW puts the password on the command line (ps, shell history): use --root-password-file FILE, --root-password-stdin or --root-password-prompt');
      if ([rootPasswordFile !== undefined, rootPasswordStdin, rootPasswordPrompt].filter(Boolean).length > 1) throw new UsageError('give one of --root-password-file, --root-password-stdin, --root-password-prompt');
      const { promptSecret, readSecretFile, readSecretStdin } = await import('../sys/secret-input.js');
      let rootPassword: string | undefined;
      if (rootPasswordFile !== undefined) {
        const r = readSecretFile(rootPasswordFile, '--root-password-file');
        if (r.warning) log().warn(r.warning);
        rootPassword = r.secret;
      } else if (rootPasswordStdin) rootPassword = await readSecretStdin('--root-password-stdin');
      else if (rootPasswordPrompt) rootPassword = await promptSecret('root password for the image: ', '--root-password-prompt');
      const r = await bootstrapImageCmd(await ctx.inventoryPath(), name, { ...o, ...(rootPassword !== undefined ? { rootPassword } : {}), autologin: !!o.autologin, progress: !ctx.json && !ctx.options.quiet });
      ctx.print(r, () =>
        [
          `added image ${name}: Debian ${r.suite} in ${r.dir} (kernel ${r.kver}, ${r.builder} initrd, ${(r.ms / 1000).toFixed(0)} s)`,
          ...r.warnings.map((w) => `warning: ${w}`),
          `next: xenroot test ${name} --serve-nfs`,
        ].join('\n'),
      );
    },
  );

  image
    .command('list')
    .description('list images')
    .action(async () => {
      const { listImages } = await import('../ops/images.js');
      const images = await listImages(await ctx.inventoryPath());
      ctx.print(images, () =>
        table([['NAME', 'KERNEL', 'SOURCE'], ...Object.entries(images).map(([n, i]) => [n, i.kver ?? '-', i.root ?? i.file ?? '-'])]),
      );
    });

  addOptions(image.command('show <name>').description('show one image, its published revisions with their tests, and which nodes boot each'), SHOW)
    .action(async (name: string, parsed: Record<string, unknown>) => {
      const o = optionValues(SHOW, parsed);
      const { showImage } = await import('../ops/images.js');
      const { imageRevisions } = await import('../ops/revisions.js');
      const file = await ctx.inventoryPath();
      const img = await showImage(file, name);
      const revs = await imageRevisions(file, name, { all: !!o.all });
      ctx.print({ name, ...img, revisions: revs }, () => [Object.entries(img).map(([k, v]) => `${k}: ${String(v)}`).join('\n'), revisionsText(revs)].join('\n'));
    });

  image
    .command('remove <name>')
    .description('remove an image from the inventory (its files are not touched)')
    .action(async (name: string) => {
      const { removeImage } = await import('../ops/images.js');
      const r = await removeImage(await ctx.inventoryPath(), name);
      ctx.print(r, () => `removed image ${name}`);
    });

  addOptions(image.command('publish <name>').description('freeze the image as a new read-only revision NAME@REV, exported at its own path, its kernel and initrds staged'), PUBLISH).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const { publishImage } = await import('../ops/revisions.js');
      const { file, syncRoot, ...o } = optionValues(PUBLISH, parsed);
      refuseMoved({ ...o, ...(file !== undefined ? { file } : {}), ...(syncRoot !== undefined ? { syncRoot } : {}) });
      const r = await publishImage(await ctx.inventoryPath(), name, { ...o, dryRun: !!o.dryRun, diff: !!o.diff, progress: !ctx.json });
      ctx.print(r, () => {
        const lines = r.dryRun
          ? [`dry run: would publish ${r.ref} from ${r.source.root ?? r.source.file}: ${r.copiedFiles} files to copy${r.linkedTo ? `, the rest hard-linked to ${name}@${r.linkedTo}` : ''}`]
          : [
              `published ${r.ref} from ${r.source.root ?? r.source.file} in ${(r.ms.total / 1000).toFixed(1)} s: ${r.files} entries, ${mib(r.bytes)}, ${mib(r.addedBytes)} added on disk${r.linkedTo ? ` (unchanged files linked to ${name}@${r.linkedTo})` : ''}`,
              `  tree ${r.path} (read-only), exported as ${r.export}`,
              `  manifest sha256 ${r.manifestSha256}`,
              ...Object.entries(r.staged).map(([t, st]) => `  staged ${t} initrd (${st.builder}) sha256 ${st.initrdSha256.slice(0, 16)}...`),
              `next: \`xenroot test ${r.ref}\`, then \`xenroot rollout ${r.ref} --all\``,
            ];
        if (r.sync) lines.push(`files: ${r.sync.counts.created} created, ${r.sync.counts.updated} updated, ${r.sync.counts.removed} removed`, ...r.sync.warnings.map((w) => `warning: ${w}`), ...(o.diff ? r.sync.changes.map((c) => (c.diff ?? '').trimEnd()) : []));
        return lines.join('\n');
      });
    },
  );

  image
    .command('verify <image@rev>')
    .description('re-read a published revision and compare it with the manifest recorded when it was published')
    .action(async (ref: string) => {
      const { verifyRevision } = await import('../ops/revisions.js');
      const r = await verifyRevision(await ctx.inventoryPath(), ref);
      ctx.print(r, () => (r.intact ? `${ref}: intact (manifest sha256 ${r.actual})` : `${ref}: CHANGED since it was published\n  ${r.differences.join('\n  ')}`));
      if (!r.intact) {
        const { ImageError } = await import('../sys/errors.js');
        throw new ImageError(`${ref} is not what was published (manifest sha256 ${r.actual}, recorded ${r.recorded})`, { hint: 'publish a new revision and roll it out; never edit a revision in place' });
      }
    });

  addOptions(image.command('prune <name>').description('remove the revisions no node boots or may roll back to, except the newest ones'), PRUNE).action(
    async (name: string, parsed: Record<string, unknown>) => {
      const { pruneImage } = await import('../ops/revisions.js');
      const { syncRoot, ...o } = optionValues(PRUNE, parsed);
      refuseMoved({ ...o, ...(syncRoot !== undefined ? { syncRoot } : {}) });
      const r = await pruneImage(await ctx.inventoryPath(), name, { ...o, dryRun: !!o.dryRun, diff: !!o.diff });
      ctx.print(r, () =>
        [
          `${r.dryRun ? 'dry run: would remove' : 'removed'} ${r.removed.length ? r.removed.join(', ') : 'nothing'}`,
          ...r.kept.map((k) => `  kept ${k.ref}: ${k.why}`),
          ...(o.diff ? r.sync.changes.map((c) => (c.diff ?? '').trimEnd()) : []),
        ].join('\n'),
      );
    },
  );
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

type Revs = Awaited<ReturnType<typeof import('../ops/revisions.js').imageRevisions>>;

/** The revisions part of `image show`. */
function revisionsText(r: Revs): string {
  if (r.revisions.length === 0) return `revisions: none (\`xenroot image publish ${r.image}\` makes one)`;
  const rows = [['REV', 'PUBLISHED', 'SIZE', 'ADDED', 'LAST TEST', 'BOOTS IT (next boot)', 'MAY ROLL BACK TO IT']];
  for (const v of r.revisions) {
    const t = v.tests.at(-1);
    const test = t ? `${t.pass ? 'PASS' : 'FAIL'} ${t.target}/${t.builder}${t.bootMs !== undefined ? ` ${(t.bootMs / 1000).toFixed(1)}s` : ''} ${t.date.slice(0, 16)}` : 'never tested';
    const list = (l: string[]) => (l.length === 0 ? '-' : l.length <= 3 ? l.join(', ') : `${l.slice(0, 2).join(', ')} +${l.length - 2}`);
    rows.push([`${v.revision}${v.prunedAt ? ' (pruned)' : ''}`, v.publishedAt.slice(0, 16), mib(v.bytes), mib(v.addedBytes), test, list(v.boots), list(v.rollback)]);
  }
  const lines = ['revisions:', ...table(rows).split('\n').map((l) => `  ${l}`)];
  if (r.workingDir.length) lines.push(`working directory (no revision): ${r.workingDir.slice(0, 5).join(', ')}${r.workingDir.length > 5 ? ` +${r.workingDir.length - 5}` : ''}`);
  return lines.join('\n');
}
