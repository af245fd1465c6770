// The API against a schema-driven fuzzer (issue 12, acceptance 1): schemathesis reads the OpenAPI
// document the API serves at /docs/json and sends every operation generated requests, valid and
// not, with an admin token, against a whole cloud (real Kafka, real PostgreSQL 15) holding
// readings, a gateway's heartbeat, a rule and an alert. It fails on any answer of 500 or above, any
// status the document does not list, any body that breaks the operation's response schema and any
// content type the document does not name. schemathesis is installed by scripts/ci-install.sh
// in its own venv under .cache/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { startCloud, type CloudStack } from '../../devstack/stack.js';

const cache = resolve(process.env.FIELDLINE_CACHE ?? join(import.meta.dirname, '..', '..', '..', '.cache'));
const SCHEMATHESIS = join(cache, 'schemathesis-venv', 'bin', 'schemathesis');
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

/** Validates the document (argv[1]) against the specification's schema; prints its version and path count. */
const VALIDATE = [
  'import json, sys',
  'from openapi_spec_validator import validate',
  'doc = json.load(open(sys.argv[1]))',
  'validate(doc)',
  'print("valid", doc["openapi"], len(doc["paths"]), "paths")',
].join('\n');

interface Run {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    // In a scratch folder: schemathesis keeps a cache of what it found in ./.schemathesis.
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, out });
    });
  });
}

describe('the API under schemathesis', { skip: existsSync(SCHEMATHESIS) ? false : `no ${SCHEMATHESIS}: run scripts/ci-install.sh` }, () => {
  let pg: PgServer;
  let stack: CloudStack;
  let admin: string;
  const reportDir = mkdtempSync(join(tmpdir(), 'fieldline-fuzz-'));

  before(async () => {
    pg = await startPostgres();
    // The fuzzer sends thousands of requests with one token: a rate limit would answer most with 429,
    // and a machine busy with other tests could have requests shed with 503; neither is under test here.
    stack = await startCloud({ databaseUrl: pg.url, api: { rateLimit: { enabled: false }, underPressure: { enabled: false } } });
    admin = await stack.cloud.auth.issue({ subject: 'fuzz', role: 'admin', ttlSeconds: 3600 });
    await stack.cloud.store!.ingest([{
      gatewayId: 'gw-1', seq: 1, createdMs: T0,
      readings: Array.from({ length: 120 }, (_, i) => ({ deviceId: 'dev-1', tsMs: T0 + i * 60_000, metrics: { temperature: 20 + (i % 7), humidity: 50 } })),
    }]);
    const rule = await fetch(`${stack.apiUrl}/v1/rules`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'hot', kind: 'threshold', target: { metric: 'temperature' }, params: { op: 'above', value: 30 } }),
    });
    assert.equal(rule.status, 201, await rule.text());
  });

  after(async () => {
    await stack?.stop();
    await pg?.destroy();
    rmSync(reportDir, { recursive: true, force: true });
  });

  it('serves an OpenAPI document that validates against the OpenAPI 3.1 specification', async () => {
    const doc = await (await fetch(`${stack.apiUrl}/docs/json`)).text();
    const file = join(reportDir, 'openapi.json');
    writeFileSync(file, doc);
    const r = await run(join(cache, 'schemathesis-venv', 'bin', 'python'), ['-c', VALIDATE, file], reportDir, 120_000);
    assert.equal(r.code, 0, `openapi-spec-validator refused the document:\n${r.out}`);
    assert.match(r.out, /^valid 3\.1\.\d+ /m);
  });

  it('finds no 5xx, no undocumented status and no response that breaks its schema in any operation', async () => {
    const doc = (await (await fetch(`${stack.apiUrl}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    assert.ok(operations >= 10, `the document lists only ${operations} operations`);

    const r = await run(SCHEMATHESIS, [
      'run', `${stack.apiUrl}/docs/json`,
      '--header', `Authorization: Bearer ${admin}`,
      '--checks', 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
      '--phases', 'examples,coverage,fuzzing',
      '--max-examples', process.env.FIELDLINE_FUZZ_EXAMPLES ?? '40',
      '--seed', '12',
      // One worker: with two, hypothesis (inside schemathesis) parses lambda sources from both
      // threads at once, and Python 3.11's ast module then fails with "AST constructor recursion depth
      // mismatch", a runtime error of the tool's that says nothing about the API.
      '--workers', '1',
      '--generation-database', 'none',
      '--request-timeout', '20',
      '--suppress-health-check', 'all',
      '--no-color',
      '--report', 'junit',
      '--report-junit-path', join(reportDir, 'junit.xml'),
    ], reportDir, 15 * 60_000);
    const tail = r.out.split('\n').slice(-400).join('\n');
    assert.equal(r.code, 0, `schemathesis failed:\n${tail}`);
    const junit = readFileSync(join(reportDir, 'junit.xml'), 'utf8');
    const tested = Number(/tests="(\d+)"/.exec(junit)?.[1] ?? 0);
    assert.ok(tested >= operations, `schemathesis ran ${tested} operations of ${operations}:\n${tail}`);
  });
});
