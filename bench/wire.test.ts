// bench/wire.ts counts the bytes of real Kafka values: the LZ4 batches it measured (the forwarder's
// default encoding, columns) open with the lz4 CLI, parse as ReadingBatch with protoc and with the
// sink's decoder, and hold every reading of the fleet, each device's in order; the JSON messages are
// the fleet's messages; the figures are those files' byte counts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { COLUMNS_SCHEMA_VERSION, decodeBatch, type Reading } from '../proto/src/wire.js';
import { benchWire, fleetMessages } from './wire.js';

const PROTO_DIR = join(import.meta.dirname, '..', '..', 'proto');

it('every LZ4 value benchWire measured opens with `lz4 -d`, decodes to the fleet\'s readings, each device\'s in order, and the figures are the files\' byte counts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-wire-'));
  try {
    const messages = 4_000;
    const r = await benchWire({ messages, writeDir: dir });
    const fleet = fleetMessages({ messages, devices: 100, readingsPerMessage: 3, intervalMs: 1_000 });
    const detail = JSON.stringify(r);
    assert.equal(r.messages, messages, detail);
    assert.equal(r.readings, messages * 3, detail);
    assert.equal(r.batchMaxReadings, 5_000, 'the forwarder\'s default batch bound');
    assert.deepEqual(r.verified, { batches: r.batches, messages, readings: messages * 3 });
    assert.equal(r.encoding, 'columns', 'the figure is of what the forwarder sends by default');

    const files = readdirSync(dir).filter((f) => f.endsWith('.lz4')).sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
    assert.equal(files.length, r.batches, detail);
    // 1,666 three-reading messages fit under 5,000; the rest goes in later batches.
    assert.equal(r.batches, Math.ceil(messages / Math.floor(5_000 / 3)), detail);
    let lz4Bytes = 0;
    let plainBytes = 0;
    let next = 0;
    for (const [i, f] of files.entries()) {
      const path = join(dir, f);
      lz4Bytes += statSync(path).size;
      const plain = execFileSync('lz4', ['-d', '-c', path], { maxBuffer: 64 * 2 ** 20 });
      plainBytes += plain.length;
      const batch = decodeBatch(readFileSync(path));
      assert.equal(Number(batch.seq), i + 1);
      assert.equal(batch.gatewayId, 'gw-bench-wire-01');
      // The batch holds the fleet's next messages; columns give them back device by device.
      const sent = fleet.slice(next, next + batch.readings.length);
      next += batch.readings.length;
      const perDevice = (list: { deviceId: string; tsMs: number; metrics: Record<string, number> }[]) => {
        const m = new Map<string, unknown[]>();
        for (const x of list) m.set(x.deviceId, [...(m.get(x.deviceId) ?? []), [x.tsMs, x.metrics]]);
        return m;
      };
      const got = batch.readings.map((x: Reading) => ({ deviceId: x.deviceId ?? '', tsMs: Number(x.tsMs), metrics: { ...x.metrics } }));
      assert.deepStrictEqual(perDevice(got), perDevice(sent));
      const values = got.reduce((n, x) => n + Object.keys(x.metrics).length, 0);
      assert.ok(values <= r.batchMaxReadings);
      if (i === 0) {
        // protoc reads the same bytes with nothing but the .proto: the value is the wire contract, not our decoder's idea of it.
        const text = execFileSync('protoc', [`-I${PROTO_DIR}`, '--decode=fieldline.v1.ReadingBatch', join(PROTO_DIR, 'telemetry.proto')], { input: plain, maxBuffer: 64 * 2 ** 20 }).toString();
        const devices = new Set(sent.map((m) => m.deviceId)).size;
        assert.equal(text.match(/^columns \{/gm)?.length, devices, 'one run per device');
        assert.equal(text.match(/^readings \{/gm), null, 'no reading left plain');
        assert.match(text, /^gateway_id: "gw-bench-wire-01"$/m);
        assert.match(text, new RegExp(`^schema_version: ${COLUMNS_SCHEMA_VERSION}$`, 'm'));
        assert.equal(text.match(/name: "temperature"/g)?.length, devices);
      }
    }
    assert.equal(next, messages, 'every device message is in a batch, once');
    assert.equal(r.valueBytes.lz4Batch, lz4Bytes);
    assert.equal(r.valueBytes.protobufBatch, plainBytes);

    const lines = readFileSync(join(dir, 'json-per-message.jsonl'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, messages);
    assert.deepEqual(JSON.parse(lines[7]!), { gatewayId: 'gw-bench-wire-01', deviceId: fleet[7]!.deviceId, ts: fleet[7]!.tsMs, metrics: fleet[7]!.metrics });
    assert.equal(r.valueBytes.jsonPerMessage, lines.reduce((a, l) => a + Buffer.byteLength(l), 0));

    assert.equal(r.ratioToJson, Math.round((lz4Bytes / r.valueBytes.jsonPerMessage) * 10_000) / 10_000);
    assert.equal(r.protobufRatioToJson, Math.round((plainBytes / r.valueBytes.jsonPerMessage) * 10_000) / 10_000);
    assert.equal(r.readingsRatioToJson, Math.round((r.valueBytes.readingsLz4Batch / r.valueBytes.jsonPerMessage) * 10_000) / 10_000);
    assert.ok(r.valueBytes.readingsLz4Batch > 0 && r.valueBytes.readingsProtobufBatch > r.valueBytes.readingsLz4Batch, 'the readings encoding is measured beside it');
    assert.equal(r.bytesPerReading.lz4Batch, Math.round((lz4Bytes / r.readings) * 100) / 100);
    assert.equal(r.bytesPerReading.jsonPerMessage, Math.round((r.valueBytes.jsonPerMessage / r.readings) * 100) / 100);
    assert.equal(r.target.met, r.ratioToJson <= 0.125);
    // A record only adds bytes to its value.
    for (const k of ['lz4Batch', 'protobufBatch', 'jsonPerMessage', 'readingsLz4Batch'] as const) assert.ok(r.withKafkaRecord.bytes[k] > r.valueBytes[k], k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('batches hold whole messages up to the bound, as the outbox leases them, and the fleet reports on its interval', async () => {
  const r = await benchWire({ messages: 300, readingsPerMessage: 5, devices: 10, batchMaxReadings: 100 });
  assert.equal(r.readings, 1_500);
  assert.equal(r.batches, 15, 'twenty five-reading messages a batch');
  assert.deepEqual(r.verified, { batches: 15, messages: 300, readings: 1_500 });

  const fleet = fleetMessages({ messages: 300, devices: 10, readingsPerMessage: 5, intervalMs: 1_000 });
  const byDevice = new Map<string, typeof fleet>();
  for (const m of fleet) byDevice.set(m.deviceId, [...(byDevice.get(m.deviceId) ?? []), m]);
  assert.equal(byDevice.size, 10);
  for (const [id, msgs] of byDevice) {
    assert.equal(msgs.length, 30, id);
    assert.deepEqual(msgs.map((m) => m.metrics['seq']), Array.from({ length: 30 }, (_, i) => i + 1), `${id} counts seq up from 1`);
    for (let i = 1; i < msgs.length; i++) {
      const gap = msgs[i]!.tsMs - msgs[i - 1]!.tsMs;
      assert.ok(gap > 990 && gap < 1_010, `${id} reports about once a second (${gap} ms)`);
    }
    assert.deepEqual(Object.keys(msgs[0]!.metrics), ['seq', 'temperature', 'humidity', 'm3', 'm4']);
  }
  for (let i = 1; i < fleet.length; i++) assert.ok(fleet[i]!.tsMs >= fleet[i - 1]!.tsMs, 'messages in arrival order');
});

it('noisy values are a sensor\'s random walk at 0.01 °C and 0.1 %RH, the same every run, and still verified reading by reading', async () => {
  const opts = { messages: 1_000, devices: 100, readingsPerMessage: 3, intervalMs: 1_000, values: 'noisy' as const };
  const a = fleetMessages(opts);
  assert.deepEqual(fleetMessages(opts), a, 'seeded: two runs measure the same bytes');
  const temps = a.map((m) => m.metrics['temperature']!);
  assert.ok(temps.every((t) => Math.round(t * 100) / 100 === t && t > 0 && t < 40));
  assert.ok(new Set(temps).size > 500, 'values vary like a sensor\'s, not a handful of repeats');
  assert.ok(a.every((m) => JSON.parse(m.payload).metrics.humidity === m.metrics['humidity']), 'the payload carries the noisy values');
  const r = await benchWire({ messages: 1_000, values: 'noisy' });
  assert.equal(r.values, 'noisy');
  assert.deepEqual(r.verified, { batches: 1, messages: 1_000, readings: 3_000 });
});
