// Every catalogued error code is documented, and every code the code base uses is catalogued
// (CONVENTIONS.md point 4, after fastify's errors test).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CODE_NAME } from '../../common/src/errors.js';
import { catalogues, renderErrorsDoc, row } from '../../scripts/errors-doc.js';

const root = join(import.meta.dirname, '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'ERRORS.md'), 'utf8');
const entries = catalogues.flatMap((s) => Object.entries(s.catalogue).map(([code, entry]) => ({ section: s, code, entry })));
const catalogued = new Set(entries.map((e) => e.code));

/** Source files outside the tests: what runs in production, plus the scripts and the bench. */
function sourceFiles(): string[] {
  const dirs = ['gateway', 'cloud-sink', 'proto', 'common', 'firmware-sim', 'scripts', 'bench'];
  return dirs.flatMap((dir) =>
    (readdirSync(join(root, dir), { recursive: true }) as string[])
      .filter((f) => /\.(ts|mjs)$/.test(f) && !f.endsWith('.test.ts') && !f.endsWith('.d.ts') && !f.split('/').includes('node_modules'))
      .map((f) => join(dir, f)),
  );
}

describe('docs/ERRORS.md', () => {
  it('lists every code of the gateway, cloud, wire and config catalogues with its status and message', () => {
    assert.deepEqual(catalogues.map((s) => s.title), ['Gateway', 'Cloud', 'Wire', 'Configuration']);
    for (const { section, code, entry } of entries) {
      assert.ok(doc.includes(`\n${row(code, entry)}\n`), `${code} (${section.source}) documented with status ${entry.status}`);
    }
  });

  it('is what scripts/gen-errors-doc.mjs writes (run it after changing a catalogue)', () => {
    assert.equal(doc, renderErrorsDoc());
  });
});

describe('error codes', () => {
  it('are named FL_ERR_<AREA>_<WHAT>', () => {
    for (const { code } of entries) assert.match(code, CODE_NAME);
  });

  it('used anywhere in the source are in a catalogue', () => {
    const missing: string[] = [];
    for (const file of sourceFiles()) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const [code] of text.matchAll(/FL_ERR_[A-Z0-9_]*/g)) {
        // A prefix (`FL_ERR_MODBUS_…` in a comment, a template literal) must begin some catalogued code.
        const known = code.endsWith('_') ? [...catalogued].some((c) => c.startsWith(code)) : catalogued.has(code);
        if (!known) missing.push(`${code} in ${file}`);
      }
    }
    assert.deepEqual(missing, [], 'codes used in the source but in no catalogue');
  });
});
