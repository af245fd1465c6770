// The columns encoding (columns.ts) loses nothing: every reading it is given comes out of decodeBatch
// as the very Reading object the readings encoding gives (own fields, prototype, values bit for bit,
// -0 and NaN included), each device's in the order sent; readings it cannot carry exactly travel
// plain; and a batch whose columns do not add up is refused with FL_ERR_WIRE_COLUMNS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { scaleOf } from './columns.js';
import { checkSchemaVersion, COLUMNS_SCHEMA_VERSION, decodeBatch, encodeBatchFromEncoded, Header, lz4Frame, lz4Unframe, SCHEMA_VERSION, schemaMajor, v1, WireError, type Reading, type SourceProtocol } from './wire.js';

type Batch = ReturnType<typeof decodeBatch>;

const T0 = Date.UTC(2026, 10, 30, 12);
const MQTT = v1.SourceProtocol.SOURCE_PROTOCOL_MQTT;

function encodeBoth(readings: (Reading | Uint8Array)[], meta = { gatewayId: 'gw-1', seq: 7, createdMs: T0 + 60_000 }) {
  const bytes = readings.map((r) => (r instanceof Uint8Array ? r : v1.Reading.encode(r).finish()));
  // The outbox counts values when it stores a reading; here the bytes say, unless they cannot.
  let values = 0;
  for (const b of bytes) {
    try {
      values += Object.keys(v1.Reading.decode(b).metrics ?? {}).length;
    } catch {
      values += 1;
    }
  }
  const m = { ...meta, values };
  return { columns: encodeBatchFromEncoded(m, bytes, 'columns'), readings: encodeBatchFromEncoded(m, bytes, 'readings') };
}

function byDevice(readings: readonly Reading[]): Map<string, Reading[]> {
  const out = new Map<string, Reading[]>();
  for (const r of readings) out.set(r.deviceId ?? '', [...(out.get(r.deviceId ?? '') ?? []), r]);
  return out;
}

/** What the batch holds on the wire: plain readings and column runs, before decodeBatch merges them. */
function onWire(value: Buffer): Batch {
  return v1.ReadingBatch.decode(lz4Unframe(value));
}

/** Encodes both ways and asserts the columns batch decodes to what the readings batch does. */
function roundTrip(readings: (Reading | Uint8Array)[]): { wire: Batch; decoded: Batch } {
  const e = encodeBoth(readings);
  const want = decodeBatch(e.readings.value);
  const got = decodeBatch(e.columns.value);
  assert.equal(got.readings.length, want.readings.length, 'as many readings');
  // deepStrictEqual: same prototype, same own fields, numbers by Object.is (so -0 is not 0, NaN is NaN).
  assert.deepStrictEqual(byDevice(got.readings), byDevice(want.readings));
  assert.deepStrictEqual(got.columns, []);
  assert.equal(got.gatewayId, 'gw-1');
  assert.equal(got.seq, 7);
  assert.equal(e.columns.headers[Header.readingCount], e.readings.headers[Header.readingCount]);
  return { wire: onWire(e.columns.value), decoded: got };
}

/** A deterministic generator, so a failure repeats. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('columns codec', () => {
  it('round-trips a fleet of interleaved devices with random values of every kind, each device in order', () => {
    const rnd = random(42);
    const kinds: (() => number)[] = [
      () => Math.floor(rnd() * 2_000) - 1_000,
      () => Math.round(rnd() * 1_000) / 10,
      () => Math.round(rnd() * 100_000) / 100,
      () => rnd(),
      () => (rnd() - 0.5) * 1e300,
      () => -Math.round(rnd() * 1e9) / 1e9,
      () => 1 / 3,
      () => -0,
      () => 0,
      () => Number.MAX_SAFE_INTEGER,
      () => 5e-324,
      () => Number.NaN,
      () => -Infinity,
    ];
    const readings: Reading[] = [];
    for (let i = 0; i < 3_000; i++) {
      const d = Math.floor(rnd() * 40);
      const metrics: Record<string, number> = {};
      for (let k = 0; k < kinds.length; k++) if (rnd() < 0.7) metrics[`m${(d + k) % kinds.length}`] = kinds[k]!();
      if (Object.keys(metrics).length === 0) metrics['m0'] = 1;
      readings.push({ deviceId: `dev-${d}`, tsMs: T0 + i * 10 + Math.floor(rnd() * 50) - 25, metrics, source: d % 3 });
    }
    const { wire } = roundTrip(readings);
    assert.equal(wire.readings.length, 0, 'every reading went into columns');
    assert.equal(wire.schemaVersion, COLUMNS_SCHEMA_VERSION);
    assert.equal(new Set(wire.columns.map((c) => c.deviceId)).size, wire.columns.length, 'one run per device');
  });

  it('picks the smallest exact decimal scale per column, and raw doubles where none is exact', () => {
    assert.equal(scaleOf([1, 2, -7, 0]), 0);
    assert.equal(scaleOf([21.5, 21.4, 0.1]), 1);
    assert.equal(scaleOf([21.37, 21.4, -0.01]), 2);
    assert.equal(scaleOf([1e-9, 2]), 9);
    for (const odd of [1 / 3, 1e300, -0, 1e-10, 2 ** 51, Number.NaN, Infinity]) assert.equal(scaleOf([1, odd]), -1, String(odd));
    const { wire } = roundTrip([
      { deviceId: 'd', tsMs: T0, metrics: { t: 21.37, third: 1 / 3, neg: -0, big: 1e300, n: 4 } },
      { deviceId: 'd', tsMs: T0 + 1_000, metrics: { t: 21.4, third: 2 / 3, neg: 0, big: 1, n: -4 } },
    ]);
    const cols = Object.fromEntries((wire.columns[0]!.metrics ?? []).map((m) => [m.name, m]));
    assert.equal(cols['t']!.scale, 2);
    assert.deepEqual(cols['t']!.scaledDelta, [2137, 3]);
    assert.equal(cols['n']!.scale, 0);
    for (const name of ['third', 'neg', 'big']) assert.equal(cols[name]!.raw.length, 2, `${name} goes as doubles`);
  });

  it('marks missing metrics in a presence bitmap and gives each reading back only its own', () => {
    const readings: Reading[] = Array.from({ length: 20 }, (_, i) => {
      const metrics: Record<string, number> = i % 3 === 0 ? { a: i, b: i / 10 } : i % 3 === 1 ? { a: i } : { b: i / 10 };
      return { deviceId: 'd1', tsMs: T0 + i, metrics };
    });
    const { wire, decoded } = roundTrip(readings);
    const cols = Object.fromEntries((wire.columns[0]!.metrics ?? []).map((m) => [m.name, m]));
    assert.equal(cols['a']!.present.length, 3, '20 readings: 3 bytes of bitmap');
    assert.deepEqual(decoded.readings.map((r) => Object.keys(r.metrics ?? {}).sort().join()), readings.map((r) => Object.keys(r.metrics!).sort().join()));
  });

  it('handles a single reading, an empty batch, descending and equal timestamps, and times as large as columns carry', () => {
    roundTrip([{ deviceId: 'only', tsMs: T0, metrics: { x: 1.5 } }]);
    const empty = encodeBoth([]);
    assert.deepEqual(decodeBatch(empty.columns.value).readings, []);
    assert.equal(onWire(empty.columns.value).schemaVersion, SCHEMA_VERSION, 'nothing in columns: the batch stays major 1');
    assert.deepEqual(empty.columns.value, empty.readings.value, 'and byte for byte the readings encoding');
    const { wire } = roundTrip([
      { deviceId: 'd', tsMs: T0 + 5_000, metrics: { x: 1 } },
      { deviceId: 'd', tsMs: T0, metrics: { x: 2 } },
      { deviceId: 'd', tsMs: T0, metrics: { x: 3 } },
      { deviceId: 'd', tsMs: 2 ** 49 - 1, metrics: { x: 4 } },
      { deviceId: 'd', tsMs: 1, metrics: { x: 5 } },
      { deviceId: 'd', tsMs: 0, metrics: { x: 6 } },
    ]);
    assert.equal(wire.readings.length, 0);
  });

  it('keeps plain what columns cannot carry exactly, in its place in its device\'s order', () => {
    const odd: Reading[] = [
      { deviceId: 'a', tsMs: T0 + 1, metrics: { x: 1 }, raw: Buffer.from('{"x":1}') },
      { deviceId: 'a', tsMs: T0 + 2, metrics: { x: 2 }, timeFlag: 'FL_ERR_CLOCK_UNSYNCED' },
      { deviceId: 'b', tsMs: T0 + 3, metrics: { x: 3 }, timeCorrected: true },
      { deviceId: 'b', tsMs: 2 ** 52, metrics: { x: 4 } },
      { deviceId: 'c', tsMs: -5, metrics: { x: 5 } },
      { deviceId: 'c', tsMs: T0, metrics: {} },
      { deviceId: '', tsMs: T0, metrics: { x: 6 } },
      { deviceId: 'c', tsMs: T0, metrics: { x: 7 }, source: -1 as SourceProtocol },
    ];
    // Unknown fields (a newer Reading), a repeated map key, a map entry without its value, a key
    // that is not UTF-8: read as they are, or refused as they are.
    const unknown = Buffer.concat([v1.Reading.encode({ deviceId: 'a', tsMs: T0 + 4, metrics: { x: 8 } }).finish(), Buffer.from([0xa0, 0x06, 0x01])]);
    const dupKey = Buffer.concat([v1.Reading.encode({ deviceId: 'b', tsMs: T0 + 5, metrics: { x: 9 } }).finish(), Buffer.from([0x1a, 0x0c, 0x0a, 0x01, 0x78, 0x11, ...new Uint8Array(new Float64Array([10]).buffer)])]);
    const noValue = Buffer.concat([v1.Reading.encode({ deviceId: 'b', tsMs: T0 + 6 }).finish(), Buffer.from([0x1a, 0x03, 0x0a, 0x01, 0x79])]);
    const readings: (Reading | Uint8Array)[] = [];
    const plainCount = odd.length + 3;
    odd.forEach((r, i) => {
      readings.push({ deviceId: r.deviceId || 'a', tsMs: T0 + 100 + i, metrics: { y: i } });
      readings.push(r);
    });
    readings.push(unknown, { deviceId: 'a', tsMs: T0 + 200, metrics: { y: 1 } }, dupKey, noValue, { deviceId: 'b', tsMs: T0 + 201, metrics: { y: 2 } });
    const { wire, decoded } = roundTrip(readings);
    assert.equal(wire.readings.length, plainCount);
    assert.ok(wire.columns.length > 3, 'a plain reading ends its device\'s run; the next starts after it');
    assert.equal(decoded.readings.find((r) => r.deviceId === 'b' && r.tsMs === T0 + 5)?.metrics?.['x'], 10, 'the last of a repeated key wins, as protobuf says');
    assert.ok(wire.readings.some((r) => r.deviceId === 'a' && r.tsMs === T0 + 4), 'a reading with a field columns do not know travels as the Reading it is');
    const notUtf8 = Buffer.from(v1.Reading.encode({ deviceId: 'd', tsMs: T0, metrics: { zz: 1 } }).finish());
    notUtf8[notUtf8.indexOf(Buffer.from([0x0a, 0x02, 0x7a, 0x7a])) + 2] = 0xff;
    const bad = encodeBoth([{ deviceId: 'd', tsMs: T0, metrics: { ok: 1 } }, notUtf8]);
    for (const v of [bad.columns.value, bad.readings.value]) assert.throws(() => decodeBatch(v), (e: unknown) => e instanceof WireError && e.code === 'FL_ERR_WIRE_PROTOBUF', 'a key that is not UTF-8 is refused either way');
  });

  it('a batch whose readings all stay plain (an untrusted clock flags them all) is byte for byte the readings encoding, major 1', () => {
    const flagged: Reading[] = Array.from({ length: 50 }, (_, i) => ({ deviceId: `d${i % 5}`, tsMs: T0 + i, metrics: { x: i / 10 }, timeFlag: 'FL_ERR_CLOCK_UNSYNCED' }));
    const e = encodeBoth(flagged);
    assert.deepEqual(e.columns.value, e.readings.value);
    assert.equal(e.columns.headers[Header.schemaVersion], String(SCHEMA_VERSION));
    // Large raw payloads grow the encoder's buffer past a MiB; the next batch is still right.
    const big = Array.from({ length: 6 }, (_, i) => ({ deviceId: 'cam', tsMs: T0 + i, metrics: { x: i }, raw: Buffer.alloc(300_000, i) }));
    const { wire } = roundTrip([...big, { deviceId: 'cam', tsMs: T0 + 10, metrics: { x: 10 } }]);
    assert.equal(wire.readings.length, 6);
    assert.equal(wire.columns.length, 1);
    roundTrip([{ deviceId: 'after', tsMs: T0, metrics: { x: 1 } }, { deviceId: 'after', tsMs: T0 + 1, metrics: { x: 2 } }]);
  });

  it('gives names back as they were: non-ASCII, __proto__, a device that changes source, metrics in another order', () => {
    const { wire, decoded } = roundTrip([
      { deviceId: 'capteur-é', tsMs: T0, metrics: { température: 21.5, __proto__x: 1 }, source: MQTT },
      { deviceId: 'capteur-é', tsMs: T0 + 1, metrics: { humidité: 40, température: 21.6 }, source: MQTT },
      { deviceId: 'capteur-é', tsMs: T0 + 2, metrics: { température: 21.7 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_COAP },
      v1.Reading.encode(Object.assign(new v1.Reading({ deviceId: 'p', tsMs: T0 }), { metrics: JSON.parse('{"__proto__": 5, "a": 1}') as Record<string, number> })).finish(),
    ]);
    assert.equal(wire.columns.length, 3, 'a new source starts a new run');
    const proto = decoded.readings.find((r) => r.deviceId === 'p')!;
    assert.deepEqual(Object.entries(proto.metrics!), [['__proto__', 5], ['a', 1]]);
  });

  it('takes a few bytes per reading for a sensor\'s slowly changing values', () => {
    const rnd = random(7);
    let t = 21;
    const readings: Reading[] = Array.from({ length: 1_000 }, (_, i) => {
      t = Math.round((t + (rnd() - 0.5) / 10) * 100) / 100;
      return { deviceId: 'sensor-1', tsMs: T0 + i * 1_000 + Math.floor(rnd() * 5), metrics: { temperature: t, seq: i }, source: MQTT };
    });
    const e = encodeBoth(readings);
    roundTrip(readings);
    assert.ok(e.columns.value.length * 4 < e.readings.value.length, `${e.columns.value.length} bytes in columns, ${e.readings.value.length} as readings`);
  });
});

describe('columns: schema major 2', () => {
  it('a batch with columns says major 2, in its field and its header; this code reads majors 1 and 2 only', () => {
    const e = encodeBoth([{ deviceId: 'd', tsMs: T0, metrics: { x: 1 } }]);
    assert.equal(onWire(e.columns.value).schemaVersion, 2000);
    assert.equal(e.columns.headers[Header.schemaVersion], '2000');
    assert.equal(e.readings.headers[Header.schemaVersion], String(SCHEMA_VERSION));
    for (const v of [0, 3, 1999, 2000, 2999]) checkSchemaVersion(v);
    for (const v of [3000, 4_294_967_295]) assert.throws(() => checkSchemaVersion(v), (err: unknown) => err instanceof WireError && err.code === 'FL_ERR_WIRE_SCHEMA_VERSION');
  });

  it('a reader of the released schema sees no readings in a columns batch, and its major-1 rule refuses it', () => {
    const released = protobuf.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'proto', 'released', 'v1', 'telemetry.proto'), 'utf8')).root.lookupType('fieldline.v1.ReadingBatch');
    const e = encodeBoth([{ deviceId: 'd', tsMs: T0, metrics: { x: 1 } }, { deviceId: 'e', tsMs: T0, metrics: { x: 2 } }]);
    const old = released.toObject(released.decode(lz4Unframe(e.columns.value))) as { readings?: unknown[]; schemaVersion: number };
    assert.equal(old.readings?.length ?? 0, 0, 'the columns are a field it does not know');
    assert.equal(schemaMajor(old.schemaVersion), 2, 'so the batch tells it, and a major-1 reader refuses other majors');
    const plain = released.toObject(released.decode(lz4Unframe(e.readings.value))) as { readings: unknown[]; schemaVersion: number };
    assert.equal(plain.readings.length, 2, 'forward.encoding: readings is what it reads in full');
    assert.equal(schemaMajor(plain.schemaVersion), 1);
  });
});

describe('columns: malformed runs', () => {
  const good = { deviceId: 'd', tsMsDelta: [T0, 1_000], metrics: [{ name: 'x', scale: 1, scaledDelta: [215, 1] }] };
  const value = (columns: Record<string, unknown>[], readings: Reading[] = []): Buffer =>
    lz4Frame(v1.ReadingBatch.encode(v1.ReadingBatch.fromObject({ gatewayId: 'g', seq: 1, schemaVersion: 2000, readings, columns })).finish());

  it('reads a hand-built run', () => {
    const b = decodeBatch(value([good]));
    assert.deepEqual(b.readings.map((r) => [r.tsMs, r.metrics]), [[T0, { x: 21.5 }], [T0 + 1_000, { x: 21.6 }]]);
  });

  const cases: [string, Record<string, unknown>[], Reading[]?][] = [
    ['a run without readings', [{ ...good, tsMsDelta: [] }]],
    ['a run without a device id', [{ ...good, deviceId: '' }]],
    ['fewer values than readings', [{ ...good, metrics: [{ name: 'x', scaledDelta: [1] }] }]],
    ['both scaled and raw values', [{ ...good, metrics: [{ name: 'x', scaledDelta: [1, 1], raw: [1, 2] }] }]],
    ['a scale past 9', [{ ...good, metrics: [{ name: 'x', scale: 10, scaledDelta: [1, 1] }] }]],
    ['a bitmap of the wrong length', [{ ...good, metrics: [{ name: 'x', present: new Uint8Array([1, 0]), scaledDelta: [1] }] }]],
    ['a presence bit past the run', [{ ...good, metrics: [{ name: 'x', present: new Uint8Array([0b101]), scaledDelta: [1, 1] }] }]],
    ['a metric in no reading', [{ ...good, metrics: [...good.metrics, { name: 'y', present: new Uint8Array([0]), scaledDelta: [] }] }]],
    ['a reading with no metric', [{ ...good, metrics: [{ name: 'x', present: new Uint8Array([1]), scaledDelta: [1] }] }]],
    ['a metric twice', [{ ...good, metrics: [...good.metrics, ...good.metrics] }]],
    ['runs placed out of order among the plain readings', [{ ...good, readingsBefore: 1 }, { ...good, readingsBefore: 0 }], [{ deviceId: 'p', tsMs: T0, metrics: { x: 1 } }]],
    ['a run placed past the plain readings', [{ ...good, readingsBefore: 2 }], [{ deviceId: 'p', tsMs: T0, metrics: { x: 1 } }]],
    ['a time past 2^53', [{ ...good, tsMsDelta: [2 ** 52, 2 ** 52] }]],
  ];
  for (const [name, columns, readings] of cases) {
    it(`refuses ${name} with FL_ERR_WIRE_COLUMNS`, () => {
      assert.throws(() => decodeBatch(value(columns, readings)), (e: unknown) => e instanceof WireError && e.code === 'FL_ERR_WIRE_COLUMNS' && e.message.length > 20);
    });
  }
});
