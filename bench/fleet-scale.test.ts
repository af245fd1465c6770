// bench/fleet-scale.ts keeps working: the sweep with tiny numbers (10 then 100 gateways, 4,000
// readings each) through the real broker, sink process, PostgreSQL 15 and API process. The bench
// itself fails unless every reading produced is stored exactly once; this test checks that the
// figures it reports are made of those counts. No speed is asserted.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { benchFleetScale } from './fleet-scale.js';

it('benchFleetScale stores every reading of 10 and then 100 gateways exactly once, and its figures come from the real counts', async () => {
  const r = await benchFleetScale({ gateways: [10, 100], readingsPerStep: 4000, readingsPerBatch: 20, devicesPerGateway: 2, requests: 8, clients: 2 });
  assert.equal(r.steps.length, 2);
  let stored = 0;
  for (const [i, s] of r.steps.entries()) {
    const detail = JSON.stringify(s);
    assert.equal(s.gateways, [10, 100][i]);
    assert.equal(s.readings, 4000);
    assert.equal(s.batches, s.gateways * s.batchesPerGateway, detail);
    assert.equal(s.batches * 20, s.readings, detail);
    assert.deepEqual(
      { rows: s.counted.rows, distinct: s.counted.distinctRows, ledger: s.counted.ledgerBatches, full: s.counted.gatewaysWithAllSeqs, lost: s.counted.lost, duplicated: s.counted.duplicated },
      { rows: 4000, distinct: 4000, ledger: s.batches, full: s.gateways, lost: 0, duplicated: 0 },
    );
    assert.deepEqual([s.counted.rollup1m, s.counted.rollup1h, s.counted.rollup1d], [4000, 4000, 4000]);
    stored += s.readings;
    assert.equal(s.storedRows, stored, 'the database accumulates across steps');
    // The rate is the step's readings over the time the sink took, as reported.
    assert.ok(s.sink.seconds > 0, detail);
    assert.ok(Math.abs(s.sink.readingsPerSecond - s.readings / s.sink.seconds) / s.sink.readingsPerSecond < 0.01, detail);
    assert.ok(s.sink.cpuSecondsPerMillion.sink > 0 && s.sink.cpuSecondsPerMillion.postgres > 0, detail);
    const t = s.db.tables;
    const storedBytes = t.readings! + t.readings_1m! + t.readings_1h! + t.readings_1d! + t.ingested_batches!;
    assert.equal(s.db.bytesPerReading, Math.round((storedBytes / stored) * 10) / 10, detail);
    assert.ok(s.db.bytesPerReading > 0 && s.db.catalogBytes > 0, detail);
    assert.ok(s.load.wireBytesPerReading > 0 && s.load.wireBytesPerReadingWithHeaders > s.load.wireBytesPerReading, detail);
    for (const q of [s.queries.raw1h, s.queries.day1m, s.queries.latest, s.queries.fleet]) {
      assert.ok(q.requests > 0 && q.checked > 0 && q.latencyMs.samples === q.requests, JSON.stringify(q));
    }
    // Every device's 4 metrics in latest; the fleet list holds every gateway stored so far.
    assert.equal(s.queries.latest.itemsPerAnswer, 4);
    assert.equal(s.queries.fleet.itemsPerAnswer, i === 0 ? 10 : 110);
  }
});
