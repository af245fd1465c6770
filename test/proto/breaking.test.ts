/**
 * proto/telemetry.proto may change only in ways the released fieldline.v1 can live with: gateways
 * in the field keep sending the old schema, and Kafka and the lake keep what they already sent.
 * `buf breaking` against the snapshot in proto/released/v1 (rules in buf.yaml) passes today, fails
 * naming the field for each change that would make released bytes unreadable or read wrongly,
 * and lets additive changes and properly reserved removals through.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ensureBuf } from '../../devstack/buf.js';
import { repoRoot, run } from '../../devstack/net.js';

const ROOT = repoRoot();
const SNAPSHOT = join(ROOT, 'proto', 'released', 'v1');
const CURRENT = readFileSync(join(ROOT, 'proto', 'telemetry.proto'), 'utf8');

interface Finding {
  type: string;
  message: string;
}

interface Check {
  code: number | null;
  findings: Finding[];
  output: string;
}

let buf = '';

before(async () => {
  buf = await ensureBuf();
});

/** `buf breaking proto --against <snapshot>` in `workspace`, whose buf.yaml sets the rules. */
async function breaking(workspace: string): Promise<Check> {
  const result = await run(buf, ['breaking', 'proto', '--against', SNAPSHOT, '--error-format', 'json'], { cwd: workspace, timeoutMs: 120_000 });
  const output = `${result.stdout}${result.stderr}`;
  const findings = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Finding);
  return { code: result.code, findings, output };
}

/** Runs the check on `proto` as proto/telemetry.proto, with the repository's own buf.yaml. */
async function breakingWith(proto: string): Promise<Check> {
  const workspace = mkdtempSync(join(tmpdir(), 'fieldline-buf-'));
  try {
    copyFileSync(join(ROOT, 'buf.yaml'), join(workspace, 'buf.yaml'));
    mkdirSync(join(workspace, 'proto'));
    writeFileSync(join(workspace, 'proto', 'telemetry.proto'), proto);
    return await breaking(workspace);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** The current proto with `from` replaced by `to` inside `message <name> { … }`; `from` must be there once. */
function edit(message: string, from: string, to: string): string {
  const start = CURRENT.indexOf(`\nmessage ${message} {\n`);
  assert.notEqual(start, -1, `message ${message} is in proto/telemetry.proto`);
  const end = CURRENT.indexOf('\n}\n', start);
  const body = CURRENT.slice(start, end);
  assert.equal(body.split(from).length - 1, 1, `"${from}" appears once in message ${message}`);
  return CURRENT.slice(0, start) + body.replace(from, to) + CURRENT.slice(end);
}

function assertRefused(check: Check, expected: Array<{ type: string; mentions: string[] }>): void {
  assert.equal(check.code, 100, `buf breaking exits 100 (breaking changes found); it said:\n${check.output}`);
  for (const { type, mentions } of expected) {
    const finding = check.findings.find((f) => f.type === type);
    assert.ok(finding, `a ${type} finding among:\n${check.output}`);
    for (const text of mentions) assert.ok(finding.message.includes(text), `"${finding.message}" names ${text}`);
  }
}

describe('buf breaking: proto/telemetry.proto against the released fieldline.v1', () => {
  it('the current proto is compatible with the released schema', async () => {
    const check = await breaking(ROOT);
    assert.equal(check.code, 0, `buf breaking failed:\n${check.output}`);
    assert.deepEqual(check.findings, []);
  });

  it('refuses a field number reused for another field, even one of the same type', async () => {
    // The bytes still decode, so only the name rules see it: old gateways' `detail` text would be read as an error code.
    const check = await breakingWith(edit('AdapterStatus', 'string detail = 3;', 'string error_code = 3;'));
    assertRefused(check, [{ type: 'FIELD_SAME_NAME', mentions: ['"3"', '"AdapterStatus"', '"detail"', '"error_code"'] }]);
  });

  it('refuses a field number reused for a field of another type', async () => {
    const reused = edit('ReadingBatch', 'uint32 schema_version = 5;', 'string region = 5;');
    assertRefused(await breakingWith(reused), [
      { type: 'FIELD_SAME_NAME', mentions: ['"5"', '"ReadingBatch"', '"schema_version"', '"region"'] },
      { type: 'FIELD_WIRE_JSON_COMPATIBLE_TYPE', mentions: ['"5"', '"uint32"', '"string"'] },
    ]);
  });

  it('refuses a field retyped (Reading.ts_ms int64 → string)', async () => {
    const check = await breakingWith(edit('Reading', 'int64 ts_ms = 2;', 'string ts_ms = 2;'));
    assertRefused(check, [{ type: 'FIELD_WIRE_JSON_COMPATIBLE_TYPE', mentions: ['"2"', '"ts_ms"', '"Reading"', '"int64"', '"string"'] }]);
    assert.equal(check.findings.length, 1, `only Reading.ts_ms changed:\n${check.output}`);
  });

  it('refuses a field removed without reserving its number and name', async () => {
    const check = await breakingWith(edit('ReadingBatch', '\n  uint32 schema_version = 5;', ''));
    assertRefused(check, [
      { type: 'FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED', mentions: ['"5"', '"schema_version"', '"ReadingBatch"'] },
      { type: 'FIELD_NO_DELETE_UNLESS_NAME_RESERVED', mentions: ['"schema_version"', '"ReadingBatch"'] },
    ]);
  });

  it('accepts a field removed with its number and name reserved', async () => {
    const check = await breakingWith(edit('ReadingBatch', 'uint32 schema_version = 5;', 'reserved 5;\n  reserved "schema_version";'));
    assert.equal(check.code, 0, `buf breaking refused a reserved removal:\n${check.output}`);
  });

  it('accepts an additive change: a new optional field with a new number', async () => {
    const check = await breakingWith(
      edit('Heartbeat', 'bool delayed = 25;', 'bool delayed = 25;\n  // Added after v1.\n  optional string firmware_build = 900;'),
    );
    assert.equal(check.code, 0, `buf breaking refused an additive change:\n${check.output}`);
    assert.deepEqual(check.findings, []);
  });
});
