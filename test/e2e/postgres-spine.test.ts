// The same path into a real PostgreSQL 15 through DATABASE_URL, where `readings` is a plain
// indexed table (issue 2, acceptance 4, end to end).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { startStack, type Stack } from '../../devstack/stack.js';

const run = promisify(execFile);

describe('spine into PostgreSQL 15 through DATABASE_URL', () => {
  let pg: PgServer;
  let stack: Stack;
  before(async () => {
    pg = await startPostgres();
    stack = await startStack({ databaseUrl: pg.url });
  });
  after(async () => {
    await stack?.stop();
    await pg?.destroy();
  });

  it('stores mosquitto_pub readings exactly once in a plain table and serves them through the API', async () => {
    assert.equal(stack.cloud.db!.kind, 'postgres');
    assert.deepEqual(await stack.cloud.store!.capabilities(), { timescaledb: false, continuousAggregates: false });
    const url = new URL(stack.mqttUrl);
    for (let seq = 1; seq <= 10; seq++) {
      await run('mosquitto_pub', ['-h', url.hostname, '-p', url.port, '-q', '1', '-i', 'pg-1', '-t', 'devices/pg-1/telemetry', '-m', JSON.stringify({ metrics: { seq } })]);
    }
    const seqs = await stack.waitFor(() => stack.seqsOf('pg-1'), (s) => s.length >= 10, 30_000);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const rows = await pg.psql("SELECT count(*) FROM readings WHERE device_id = 'pg-1'", 'fieldline');
    assert.equal(rows.trim(), '10');
  });
});
