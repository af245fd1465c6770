// Every catalogued error code is documented (CONVENTIONS.md point 4, after fastify's errors test).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { catalogue as cloud } from '../../cloud-sink/src/errors.js';
import { catalogue as gateway } from '../../gateway/src/errors.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'ERRORS.md'), 'utf8');

it('docs/ERRORS.md lists every code of both catalogues with its status', () => {
  for (const [code, entry] of [...Object.entries(gateway), ...Object.entries(cloud)]) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${entry.status} \\|`), `${code} documented with status ${entry.status}`);
  }
});

it('every code is named FL_ERR_<AREA>_<WHAT>', () => {
  for (const code of [...Object.keys(gateway), ...Object.keys(cloud)]) assert.match(code, /^FL_ERR_[A-Z]+_[A-Z_]+$/);
});
