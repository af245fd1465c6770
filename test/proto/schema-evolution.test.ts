// The schema_version rule (telemetry.proto, on the field; wire.ts): a batch written by a producer a
// revision ahead (new optional fields under new numbers) is read in full by this code, and a batch
// of another major is refused before anything in it is trusted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { admitBatch, sanityLimits } from '../../cloud-sink/src/consume/sanity.js';
import { FieldlineError } from '../../cloud-sink/src/errors.js';
import { decodeBatch, lz4Unframe, SCHEMA_VERSION, schemaMajor } from '../../proto/src/wire.js';
import { decodeNextRevision, nextRevisionValue, type NextRevisionBatch } from '../support/next-revision.js';

const NOW = Date.UTC(2026, 0, 1);
const limits = sanityLimits(cloudConfigSchema.parse({}).sink);

const next: NextRevisionBatch = {
  gatewayId: 'gw-next',
  seq: 3,
  createdMs: NOW,
  schemaVersion: SCHEMA_VERSION + 1,
  site: 'plant-4',
  location: { lat: 52.37, lon: 4.89 },
  readings: [
    { deviceId: 'd1', tsMs: NOW - 2000, metrics: { temperature: 21.5, humidity: 40 }, batteryV: 3.7 },
    { deviceId: 'd2', tsMs: NOW - 1000, metrics: { pressure: 1013.25 }, batteryV: 3.1 },
  ],
};

describe('schema evolution', () => {
  it('the major of a version: 0-1999 are major 1 (0 = unset, from the first producers), then one per thousand', () => {
    assert.deepEqual([0, 1, 999, 1000, 1999, 2000, 2999, 3000].map(schemaMajor), [1, 1, 1, 1, 1, 2, 2, 3]);
  });

  it('a next-revision batch really carries the new fields (its own reader sees them)', () => {
    const seen = decodeNextRevision(lz4Unframe(nextRevisionValue(next)));
    assert.equal(seen.site, 'plant-4');
    assert.deepEqual(seen.location, { lat: 52.37, lon: 4.89 });
    assert.equal((seen.readings as { batteryV: number }[])[1]!.batteryV, 3.1);
  });

  it('this code reads a next-revision batch (SCHEMA_VERSION + 1) in full and skips only the fields it does not know', () => {
    const a = admitBatch(nextRevisionValue(next), limits, NOW);
    assert.equal(a.schemaVersion, SCHEMA_VERSION + 1);
    assert.equal(a.batch.gatewayId, 'gw-next');
    assert.equal(a.batch.seq, 3);
    assert.deepEqual(a.batch.readings.map((r) => ({ deviceId: r.deviceId, tsMs: r.tsMs, metrics: { ...r.metrics } })), next.readings.map(({ batteryV: _, ...r }) => r));
    const plain = decodeBatch(nextRevisionValue(next)).toJSON();
    assert.ok(!('site' in plain) && !('location' in plain), 'unknown fields are not invented into the decoded batch');
  });

  it('the same bytes under major 3 (schema_version 3000), which this code does not know, are refused with FL_ERR_WIRE_SCHEMA_VERSION', () => {
    assert.throws(
      () => admitBatch(nextRevisionValue({ ...next, schemaVersion: 3000 }), limits, NOW),
      (e: unknown) => e instanceof FieldlineError && e.code === 'FL_ERR_WIRE_SCHEMA_VERSION' && /3000 is major 3/.test(e.message),
    );
  });
});
