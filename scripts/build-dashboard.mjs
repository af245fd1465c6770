#!/usr/bin/env node
// Builds the operators' dashboard (cloud-sink/dashboard) into dist/dashboard: typechecks it with its
// own tsconfig (DOM lib; esbuild does not typecheck), bundles and minifies it with esbuild, names
// the script and stylesheet after their content hash (so they can be cached for a year) and writes
// index.html pointing at them. Every asset is local: the dashboard works with no internet access.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as esbuild from 'esbuild';

const root = join(import.meta.dirname, '..');
const src = join(root, 'cloud-sink', 'dashboard');
const out = join(root, 'dist', 'dashboard');

const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build-dashboard: the dashboard does not typecheck');
  process.exit(tsc.status ?? 1);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: join(src, 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => /^app-[A-Z0-9]+\.js$/.test(f));
const css = outputs.find((f) => /^app-[A-Z0-9]+\.css$/.test(f));
if (!js || !css) {
  console.error(`build-dashboard: expected app-<hash>.js and app-<hash>.css, got ${outputs.join(', ')}`);
  process.exit(1);
}
const html = readFileSync(join(src, 'src', 'index.html'), 'utf8').replace('%APP_JS%', js).replace('%APP_CSS%', css);
writeFileSync(join(out, 'index.html'), html);
console.log(`build-dashboard: dist/dashboard/index.html, assets/${js}, assets/${css}`);
