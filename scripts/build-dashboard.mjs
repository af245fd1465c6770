#!/usr/bin/env node
// Builds the two browser apps: the operators' dashboard (cloud-sink/dashboard → dist/dashboard) and
// the gateway's commissioning page (gateway/web → dist/commissioning). Each is typechecked with its
// own tsconfig (DOM lib; esbuild does not typecheck), bundled and minified with esbuild, its script
// and stylesheet named after their content hash (so they can be cached for a year), and index.html
// written pointing at them. Every asset is local: both work with no internet access.
// `node scripts/build-dashboard.mjs commissioning` builds only the named app(s).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = join(import.meta.dirname, '..');
const APPS = {
  dashboard: { src: join(root, 'cloud-sink', 'dashboard'), out: join(root, 'dist', 'dashboard') },
  commissioning: { src: join(root, 'gateway', 'web'), out: join(root, 'dist', 'commissioning') },
};

const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in APPS)) {
    console.error(`build-dashboard: no app ${JSON.stringify(name)} (expected ${Object.keys(APPS).join(' or ')})`);
    process.exit(2);
  }
}
for (const [name, app] of Object.entries(APPS)) {
  if (wanted.length === 0 || wanted.includes(name)) await build(name, app);
}

async function build(name, { src, out }) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error(`build-dashboard: the ${name} app does not typecheck`);
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
    console.error(`build-dashboard: expected app-<hash>.js and app-<hash>.css for ${name}, got ${outputs.join(', ')}`);
    process.exit(1);
  }
  const html = readFileSync(join(src, 'src', 'index.html'), 'utf8').replace('%APP_JS%', js).replace('%APP_CSS%', css);
  writeFileSync(join(out, 'index.html'), html);
  // What a page load transfers compressed: the figure that matters on a gateway's SD card and a slow link.
  const gz = [join(out, 'index.html'), join(out, 'assets', js), join(out, 'assets', css)].reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
  const rel = out.slice(root.length + 1);
  console.log(`build-dashboard: ${rel}/index.html, assets/${js}, assets/${css} (${(gz / 1024).toFixed(1)} KB gzipped)`);
}
