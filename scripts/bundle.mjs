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
  // handlers (proper-lockfile, signal-exit): loaded from node_modules as they are.
  external: ['@unraid/libvirt', 'node-pty', 'pino', 'pino-pretty', 'proper-lockfile', 'signal-exit', 'execa'],
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
