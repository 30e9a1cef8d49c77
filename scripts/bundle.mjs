#!/usr/bin/env node
// Bundles the CLI (dist/bundle/) with esbuild, so that start-up loads a few files instead of
// hundreds (zod alone is ~150 modules): measured in bench/cli.mjs. Lazy imports stay lazy
// (code splitting). Native modules and what is loaded through createRequire stay external.
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
  external: ['@unraid/libvirt', 'node-pty', 'pino', 'pino-pretty'],
  // CommonJS dependencies (commander, ...) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __xenrootRequire } from 'node:module'; const require = __xenrootRequire(import.meta.url);" },
  logLevel: 'warning',
});
