// `node dist/test/arm64/runner.js FILE…`: node's test runner as a script rather than `node --test`.
// Under qemu the difference matters: `node --test` spawns each file's process from the execPath it
// read before any --import module ran, the arm64 binary itself, which the kernel cannot start
// without binfmt_misc. Here the run starts after exec-path.mjs (loaded by $FIELDLINE_CACHE/arm64/bin/node)
// pointed process.execPath at the qemu wrapper, so each file's process runs under qemu too.
import { run } from 'node:test';
import { tap } from 'node:test/reporters';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: runner.js FILE…');
  process.exit(2);
}
const stream = run({ files, concurrency: 1, timeout: 300_000 });
stream.on('test:fail', () => (process.exitCode = 1));
stream.compose(tap).pipe(process.stdout);
