#!/usr/bin/env node
// Runs every compiled test file (tests live beside the code and under test/) with Node's built-in
// runner. Two files run at a time (FIELDLINE_TEST_CONCURRENCY sets it; 1 runs them one by one): the
// slow integration tests spend most of their time waiting out outages, restarts and intervals, not
// on the CPU, and every test takes free ports and its own temp dirs, so two of them share the
// machine. No single test may take over 10 minutes (30 in a soak run), so a hang fails the run
// instead of eating CI's time. Pass paths or substrings to run a subset.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', 'dist');
const filters = process.argv.slice(2);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(root)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort((a, b) => weight(a) - weight(b) || a.localeCompare(b));

// Unit tests first, so a broken basic fails fast before the slow suites start.
function weight(f) {
  if (f.includes('/test/e2e/') || f.includes('/test/fault/')) return 3;
  if (f.includes('/test/')) return 2;
  return 1;
}

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// The soak runs (npm run test:soak, FIELDLINE_SOAK=1) hold a 10-minute outage, so they get 30.
const timeoutMs = process.env.FIELDLINE_SOAK === '1' ? 1_800_000 : 600_000;
const concurrency = Number(process.env.FIELDLINE_TEST_CONCURRENCY ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`FIELDLINE_TEST_CONCURRENCY: expected a whole number ≥ 1, got ${JSON.stringify(process.env.FIELDLINE_TEST_CONCURRENCY)}`);
  process.exit(2);
}
console.log(`run-tests: ${files.length} files, ${concurrency} at a time, on node ${process.version} (${process.execPath})`);
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
