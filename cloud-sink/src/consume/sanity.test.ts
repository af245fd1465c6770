import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBatch, lz4Frame, type ReadingBatch } from '../../../proto/src/wire.js';
import { cloudConfigSchema } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { IngestBatch } from '../store/store.js';
import { admitBatch, checkBatch, sanityLimits, type SanityLimits } from './sanity.js';

const DAY = 24 * 3_600_000;
/** The injected "now" of every case: no test here reads the wall clock. */
const NOW = Date.UTC(2026, 5, 1, 12);
const limits: SanityLimits = sanityLimits(cloudConfigSchema.parse({}).sink);

function batch(over: Partial<IngestBatch> = {}): IngestBatch {
  return { gatewayId: 'gw-1', seq: 7, createdMs: NOW, readings: [{ deviceId: 'd1', tsMs: NOW - 1000, metrics: { temperature: 21.5, humidity: 40 } }], ...over };
}

function withReading(r: IngestBatch['readings'][number]): IngestBatch {
  return batch({ readings: [{ deviceId: 'ok', tsMs: NOW, metrics: { x: 1 } }, r] });
}

function refusedWith(code: string, detail?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof FieldlineError, String(e));
    assert.equal(e.code, code, e.message);
    if (detail) assert.match(e.message, detail);
    return true;
  };
}

describe('sink sanity checks', () => {
  it('a reading its gateway flagged (time_flag) is admitted at its stamped time, even 1970; the flag must be plain text', () => {
    checkBatch(withReading({ deviceId: 'd', tsMs: 1_000, metrics: { v: 1 }, timeFlag: 'FL_ERR_CLOCK_REBOOTED' }), limits, NOW);
    assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: 1_000, metrics: { v: 1 }, timeFlag: 'bad\u0000flag' }), limits, NOW), refusedWith('FL_ERR_SINK_TIME_FLAG'));
    assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: 1_000, metrics: { v: 1 } }), limits, NOW), refusedWith('FL_ERR_SINK_TIME_TOO_EARLY'), 'without a flag the window applies');
  });

  it('the defaults: earliest 2000-01-01, one day of skew, the gateway limits for ids and batch size', () => {
    assert.deepEqual(limits, {
      earliestMs: Date.UTC(2000, 0, 1),
      maxFutureSkewMs: DAY,
      maxReadingsPerBatch: 1_000_000,
      maxDeviceIdLength: 128,
      maxMetricNameLength: 128,
    });
  });

  it('pass a plausible batch, including times exactly at both limits and values at ±1e300', () => {
    checkBatch(batch(), limits, NOW);
    checkBatch(withReading({ deviceId: 'edge', tsMs: limits.earliestMs, metrics: { v: 1e300 } }), limits, NOW);
    checkBatch(withReading({ deviceId: 'edge', tsMs: NOW + DAY, metrics: { v: -1e300, zero: 0, tiny: -5e-324 } }), limits, NOW);
    checkBatch(withReading({ deviceId: 'ü'.repeat(128), tsMs: NOW, metrics: { ['µ'.repeat(128)]: 1 } }), limits, NOW);
  });

  it('refuse a reading stamped before the earliest time, or at 0 (a gateway that never stamped it)', () => {
    assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: limits.earliestMs - 1, metrics: { v: 1 } }), limits, NOW),
      refusedWith('FL_ERR_SINK_TIME_TOO_EARLY', /reading 1 \(device "d"\): ts 946684799999 \(1999-12-31T23:59:59\.999Z\) is before 2000-01-01/));
    assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: 0, metrics: { v: 1 } }), limits, NOW), refusedWith('FL_ERR_SINK_TIME_TOO_EARLY'));
  });

  it('refuse a reading stamped further ahead of the injected clock than the skew, and follow the clock and the limit', () => {
    const ahead = withReading({ deviceId: 'd', tsMs: NOW + DAY + 1, metrics: { v: 1 } });
    assert.throws(() => checkBatch(ahead, limits, NOW), refusedWith('FL_ERR_SINK_TIME_AHEAD', /past 2026-06-02T12:00:00\.000Z/));
    checkBatch(ahead, limits, NOW + 1);
    checkBatch(ahead, { ...limits, maxFutureSkewMs: 2 * DAY }, NOW);
    const nextYear = withReading({ deviceId: 'd', tsMs: NOW + 365 * DAY, metrics: { v: 1 } });
    assert.throws(() => checkBatch(nextYear, limits, NOW), refusedWith('FL_ERR_SINK_TIME_AHEAD'));
  });

  it('refuse device ids that are empty, too long (counted in characters) or hold control characters', () => {
    const cases: [string, RegExp][] = [
      ['', /device id is empty/],
      ['d'.repeat(129), /is 129 characters \(limit 128\)/],
      ['😀'.repeat(129), /is 129 characters/],
      ['tab\there', /"tab\\there" holds control characters/],
      ['nul\u0000', /holds control characters/],
      ['del\u007f', /holds control characters/],
      ['c1\u0085', /holds control characters/],
    ];
    for (const [deviceId, detail] of cases) {
      assert.throws(() => checkBatch(withReading({ deviceId, tsMs: NOW, metrics: { v: 1 } }), limits, NOW), refusedWith('FL_ERR_SINK_DEVICE_ID', detail), JSON.stringify(deviceId));
    }
    checkBatch(withReading({ deviceId: '😀'.repeat(128), tsMs: NOW, metrics: { v: 1 } }), limits, NOW);
    checkBatch(withReading({ deviceId: 'd'.repeat(129), tsMs: NOW, metrics: { v: 1 } }), { ...limits, maxDeviceIdLength: 129 }, NOW);
  });

  it('refuse metric names that are empty, too long or hold control characters', () => {
    for (const name of ['', 'm'.repeat(129), 'line\nbreak', 'esc\u001b[31m']) {
      assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: NOW, metrics: { ok: 1, [name]: 2 } }), limits, NOW), refusedWith('FL_ERR_SINK_METRIC_NAME'), JSON.stringify(name));
    }
  });

  it('refuse values that are not finite or beyond ±1e300 (the store limit)', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.0000001e300, -1e301, Number.MAX_VALUE]) {
      assert.throws(() => checkBatch(withReading({ deviceId: 'd', tsMs: NOW, metrics: { v } }), limits, NOW), refusedWith('FL_ERR_SINK_VALUE', /"v" = /), String(v));
    }
  });

  it('refuse a batch with no values, and one with more values than the limit (counted as readings: one per metric)', () => {
    assert.throws(() => checkBatch(batch({ readings: [] }), limits, NOW), refusedWith('FL_ERR_SINK_EMPTY_BATCH'));
    assert.throws(() => checkBatch(batch({ readings: [{ deviceId: 'd', tsMs: NOW, metrics: {} }] }), limits, NOW), refusedWith('FL_ERR_SINK_EMPTY_BATCH'));
    const three = batch({ readings: [{ deviceId: 'd', tsMs: NOW, metrics: { a: 1, b: 2 } }, { deviceId: 'e', tsMs: NOW, metrics: { a: 1 } }] });
    checkBatch(three, { ...limits, maxReadingsPerBatch: 3 }, NOW);
    assert.throws(() => checkBatch(three, { ...limits, maxReadingsPerBatch: 2 }, NOW), refusedWith('FL_ERR_SINK_TOO_MANY_READINGS', /3 > 2/));
  });

  it('refuse a gateway id that is too long or holds control characters', () => {
    assert.throws(() => checkBatch(batch({ gatewayId: 'gw\u0000' }), limits, NOW), refusedWith('FL_ERR_SINK_GATEWAY_ID'));
    assert.throws(() => checkBatch(batch({ gatewayId: 'g'.repeat(129) }), limits, NOW), refusedWith('FL_ERR_SINK_GATEWAY_ID'));
  });

  it('name the first bad reading of a batch, whichever check it fails', () => {
    const b = batch({ readings: [
      { deviceId: 'good', tsMs: NOW, metrics: { v: 1 } },
      { deviceId: 'late', tsMs: NOW + 2 * DAY, metrics: { v: Number.NaN } },
      { deviceId: '', tsMs: 0, metrics: { v: 1 } },
    ] });
    assert.throws(() => checkBatch(b, limits, NOW), refusedWith('FL_ERR_SINK_TIME_AHEAD', /reading 1 \(device "late"\)/));
  });
});

describe('admitBatch: decode, schema version, identity, sanity', () => {
  const good: ReadingBatch = { gatewayId: 'gw-1', seq: 9, createdMs: NOW, readings: [{ deviceId: 'd1', tsMs: NOW, metrics: { t: 1 } }], schemaVersion: 1 };

  it('returns the batch of a good message with the schema_version field as sent', () => {
    const a = admitBatch(encodeBatch(good).value, limits, NOW);
    assert.equal(a.schemaVersion, 1);
    assert.deepEqual({ ...a.batch, readings: a.batch.readings.map((r) => ({ deviceId: r.deviceId, tsMs: r.tsMs, metrics: r.metrics })) },
      { gatewayId: 'gw-1', seq: 9, createdMs: NOW, readings: [{ deviceId: 'd1', tsMs: NOW, metrics: { t: 1 } }] });
    assert.equal(admitBatch(encodeBatch({ ...good, schemaVersion: 0 }).value, limits, NOW).schemaVersion, 0, 'unset: an old producer, read as 1');
  });

  it('names what is wrong with a message that is not a readable batch', () => {
    assert.throws(() => admitBatch(null, limits, NOW), refusedWith('FL_ERR_WIRE_EMPTY'));
    assert.throws(() => admitBatch(Buffer.alloc(0), limits, NOW), refusedWith('FL_ERR_WIRE_EMPTY'));
    assert.throws(() => admitBatch(Buffer.from('not an lz4 frame'), limits, NOW), refusedWith('FL_ERR_WIRE_LZ4'));
    // 0x0f: field 1 with wire type 7, which protobuf does not have.
    assert.throws(() => admitBatch(lz4Frame(Buffer.from([0x0f, 1, 2, 3])), limits, NOW), refusedWith('FL_ERR_WIRE_PROTOBUF'));
    assert.throws(() => admitBatch(encodeBatch({ ...good, gatewayId: '' }).value, limits, NOW), refusedWith('FL_ERR_WIRE_BATCH_ID'));
    assert.throws(() => admitBatch(encodeBatch({ ...good, seq: 0 }).value, limits, NOW), refusedWith('FL_ERR_WIRE_BATCH_ID'));
  });

  it('reads every revision of majors 1 and 2 (0-2999; 2 is columns) and refuses other majors with FL_ERR_WIRE_SCHEMA_VERSION', () => {
    for (const v of [0, 1, 2, 999, 1000, 1999, 2000, 2999]) admitBatch(encodeBatch({ ...good, schemaVersion: v }).value, limits, NOW);
    for (const v of [3000, 3001, 4_294_967_295]) {
      assert.throws(() => admitBatch(encodeBatch({ ...good, schemaVersion: v }).value, limits, NOW), refusedWith('FL_ERR_WIRE_SCHEMA_VERSION', new RegExp(`${v} is major`)));
    }
  });

  it('checks the schema version before the batch identity and the readings: an unknown major is not read further', () => {
    const foreign = encodeBatch({ gatewayId: '', seq: 0, createdMs: 0, readings: [{ deviceId: '', tsMs: 0, metrics: {} }], schemaVersion: 3000 });
    assert.throws(() => admitBatch(foreign.value, limits, NOW), refusedWith('FL_ERR_WIRE_SCHEMA_VERSION'));
  });
});
