// bench/sink-process.ts keeps working: a real `fieldline-cloud sink` process drains a small backlog
// and then a two-second live load from a real Kafka topic into a real PostgreSQL 15, and the bench's
// own count-back holds (every reading a row once, every batch in the ledger, each rollup's counts
// summing to the readings, the values' sum unchanged). No speed is asserted: the figures are the
// bench's to report.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { startKafka, type KafkaBroker } from '../devstack/kafka.js';
import { startPostgres, type PgServer } from '../devstack/postgres.js';
import { benchSinkProcess } from './sink-process.js';

let broker: KafkaBroker;
let postgres: PgServer;
before(async () => {
  [broker, postgres] = await Promise.all([startKafka(), startPostgres()]);
});
after(async () => {
  await Promise.all([broker?.destroy(), postgres?.destroy()]);
});

it('a sink process drains a backlog: every reading stored once, rollups and ledger agree, CPU per reading measured', async () => {
  const r = await benchSinkProcess({ readings: 40_000, readingsPerBatch: 2_000, gateways: 4, broker, postgres });
  assert.equal(r.mode, 'backlog');
  assert.equal(r.batches, 20);
  assert.deepEqual(r.counted, { readings: 40_000, distinctKeys: 40_000, batches: 20, readings_1m: 40_000, readings_1h: 40_000, readings_1d: 40_000 });
  assert.ok(r.readingsPerSecond > 0 && r.cpuSecondsPerMillion > 0, JSON.stringify(r));
  assert.equal(r.latencyMs, null);
});

it('a sink process under a paced live load: each batch\'s latency is measured and nothing is lost', async () => {
  const r = await benchSinkProcess({ rate: 5_000, seconds: 2, readingsPerBatch: 500, gateways: 2, broker, postgres });
  assert.equal(r.mode, 'live');
  assert.equal(r.readings, 10_000);
  assert.equal(r.counted.readings, 10_000);
  assert.equal(r.counted.distinctKeys, 10_000);
  assert.equal(r.counted.batches, 20);
  assert.equal(r.latencyMs?.samples, 20);
  assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99, JSON.stringify(r.latencyMs));
});
