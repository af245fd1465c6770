// The product targets Node.js 24 LTS (Node 20 reached end of life in April 2026): the tests run on
// the runtime scripts/ci-install.sh provides, and package.json refuses an older one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { repoRoot } from '../devstack/net.js';

it(`runs on Node.js 24 or later (this run: ${process.version})`, () => {
  console.log(`# runtime: node ${process.version} (${process.execPath}), modules ABI ${process.versions.modules}`);
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, `node ${process.version}`);
});

it('package.json engines asks for Node.js 24 or later', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { engines?: { node?: string } };
  assert.equal(pkg.engines?.node, '>=24');
});
