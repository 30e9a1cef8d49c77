#!/usr/bin/env node
// Bundles the CLI (dist/bundle/) with esbuild, so that start-up loads a few files instead of
// hundreds (zod alone is ~150 modules): measured in bench/cli.mjs. Lazy imports stay lazy
// (code splitting). Native modules, some CommonJS packages and what is loaded through
// createRequire stay external; a build fails if a bundled module still names __filename/__dirname.
// The chunks sit two levels below the repository, like dist/<part>/*.js, so the relative paths
// to templates/, .cache/ and package.json resolve the same from both.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${root}src/cli/main.ts`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: '[name]-[hash]',
  // Native modules, and CommonJS packages that use __filename/__dirname or process-wide signal
  // handlers (signal-exit, through execa): loaded from node_modules as they are.
  external: ['@unraid/libvirt', 'node-pty', 'pino', 'pino-pretty', 'signal-exit', 'execa'],
  // CommonJS dependencies (commander, ...) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __xenrootRequire } from 'node:module'; const require = __xenrootRequire(import.meta.url);" },
  logLevel: 'warning',
});

// A bundled CommonJS module that reads __filename/__dirname would fail only at run time: refuse here.
const { readdir, readFile } = await import('node:fs/promises');
for (const f of await readdir(outdir)) {
  const text = await readFile(`${outdir}/${f}`, 'utf8');
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
  if (/\b__(filename|dirname)\b/.test(code)) throw new Error(`bundle: ${f} uses __filename/__dirname; add its package to external in scripts/bundle.mjs`);
}

// The code stamp (src/sys/stamp.ts): caches keyed by it (the validated model, the sync plan's
// inputs) are void when the code that makes them changes. Written once here instead of hashing
// the modules at every start.
{
  const { createHash } = await import('node:crypto');
  const { existsSync, readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const h = createHash('sha1');
  for (const d of ['deploy', 'render', 'inventory', 'ops', 'sys']) {
    const dir = `${root}dist/${d}`;
    if (!existsSync(dir)) continue;
    // Folders nest (ops/steps): every file below the layer, in a fixed order.
    for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.endsWith('.map'))
      .map((e) => `${e.parentPath ?? e.path}/${e.name}`.slice(dir.length + 1))
      .sort()) {
      h.update(`${d}/${f}\0`).update(readFileSync(`${dir}/${f}`)).update('\0');
    }
  }
  writeFileSync(`${root}dist/stamp.txt`, h.digest('hex') + '\n');
}
