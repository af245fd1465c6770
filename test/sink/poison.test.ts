// Issue 10, "Poison messages" and "Schema evolution", against a real Kafka broker and the embedded
// TimescaleDB: poison of every kind interleaved with good batches on one partition of iot.readings
// goes to the DLQ untouched while every good batch is stored and the partition moves past it all;
// then the fix (the sink restarted with the skew limit raised) and `fieldline-cloud dlq replay`, the
// real CLI as a child process, bring the one fixable batch back exactly once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { repoRoot, run, waitUntil } from '../../devstack/net.js';
import { encodeBatch, encodeBatchFromEncoded, Header, lz4Frame, SCHEMA_VERSION, v1, type ReadingBatch } from '../../proto/src/wire.js';
import { CommittedOffsets } from '../fault/sink-support.js';
import { nextRevisionValue } from '../support/next-revision.js';

const DAY = 24 * 3_600_000;
const READINGS = 'poison.readings';
const DLQ = 'poison.dlq';
const STORE_GROUP = 'poison-store';
const MAX_READINGS = 100;

type Headers = Record<string, string>;
interface Sent {
  name: string;
  value: Buffer | null;
  key: string;
  headers: Headers;
  offset: number;
}
interface Poison extends Sent {
  code: string;
}
interface DlqRecord {
  offset: number;
  value: Buffer | null;
  key: string | undefined;
  headers: [string, string][];
}

/** A producer that waits for each message's delivery report, so the test knows every offset. */
class Producer {
  private next = 0;
  private readonly waiting = new Map<number, (r: { err: Kafka.LibrdKafkaError | null; offset: number }) => void>();

  private constructor(private readonly p: Kafka.Producer) {
    p.on('delivery-report', (err, report) => this.waiting.get(report.opaque as number)?.({ err, offset: report.offset }));
  }

  static async connect(bootstrap: string): Promise<Producer> {
    const p = new Kafka.Producer({ 'metadata.broker.list': bootstrap, 'client.id': 'poison-test', 'enable.idempotence': true, dr_cb: true });
    await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    p.setPollInterval(20);
    return new Producer(p);
  }

  async send(value: Buffer | null, key: string, headers: Headers): Promise<number> {
    const id = this.next++;
    const report = new Promise<{ err: Kafka.LibrdKafkaError | null; offset: number }>((resolve) => this.waiting.set(id, resolve));
    this.p.produce(READINGS, 0, value, key, Date.now(), id, Object.entries(headers).map(([k, v]) => ({ [k]: v })));
    const { err, offset } = await report;
    this.waiting.delete(id);
    if (err) throw new Error(`produce to ${READINGS} failed: ${err.message}`);
    return offset;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.p.disconnect(() => resolve()));
  }
}

/** Every message of partition 0 of `topic`, read from a consumer outside any group. */
async function readAll(bootstrap: string, topic: string): Promise<DlqRecord[]> {
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': bootstrap, 'group.id': 'poison-test-reader', 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  try {
    const end = await new Promise<number>((resolve, reject) =>
      c.queryWatermarkOffsets(topic, 0, 5_000, (err, w) => (err ? reject(err) : resolve(w.highOffset))),
    );
    const out: DlqRecord[] = [];
    if (end === 0) return out;
    c.assign([{ topic, partition: 0, offset: 0 }]);
    await waitUntil(
      async () => {
        const msgs = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(500, (err, m) => (err ? reject(err) : resolve(m))));
        for (const m of msgs) {
          out.push({
            offset: m.offset,
            value: m.value,
            key: m.key === undefined || m.key === null ? undefined : m.key.toString(),
            headers: (m.headers ?? []).map((h) => {
              const [k, v] = Object.entries(h)[0]!;
              return [k, v.toString()];
            }),
          });
        }
        return out.length >= end;
      },
      { what: `${end} messages of ${topic}`, timeoutMs: 30_000, intervalMs: 10 },
    );
    return out;
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
}

function headersOf(m: ReturnType<typeof encodeBatch>, extra: Headers = {}): Headers {
  return { ...m.headers, ...extra };
}

describe('poison messages on iot.readings, and dlq replay (issue 10)', { timeout: 300_000 }, () => {
  let dir: string;
  let kafka: KafkaBroker;
  let producer: Producer;
  let offsets: CommittedOffsets;
  let cloud: Cloud | undefined;
  let configFile: string;
  const now = Date.now();
  const goodTs = now - 3_600_000;
  const good: Sent[] = [];
  const poison: Poison[] = [];
  let goodValues = 0;

  const config = (sink: Record<string, unknown>) => ({
    dataDir: join(dir, 'cloud'),
    logLevel: 'silent' as const,
    kafka: { brokers: kafka.bootstrap, readingsTopic: READINGS, dlqTopic: DLQ, storeGroup: STORE_GROUP, sessionTimeoutMs: 6_000 },
    api: { host: '127.0.0.1', port: 0 },
    sink: { maxReadingsPerBatch: MAX_READINGS, ...sink },
  });

  async function startCloud(sink: Record<string, unknown> = {}): Promise<Cloud> {
    const c = new Cloud(cloudConfigSchema.parse(config(sink)), 'all', pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' }));
    await c.start();
    return c;
  }

  async function metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${cloud!.apiPort}/metrics`);
    assert.equal(res.status, 200);
    return res.text();
  }

  async function query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await cloud!.store!.db.query<T>(sql, params)).rows;
  }

  async function ledger(): Promise<string[]> {
    const rows = await query<{ gateway_id: string; seq: string; reading_count: number }>(
      'SELECT gateway_id, seq::text, reading_count FROM ingested_batches ORDER BY gateway_id, seq',
    );
    return rows.map((r) => `${r.gateway_id}/${r.seq}:${r.reading_count}`).sort();
  }

  async function rowsOf(gatewayId: string): Promise<number> {
    const [r] = await query<{ n: number | bigint }>('SELECT count(*) AS n FROM readings WHERE gateway_id = $1', [gatewayId]);
    return Number(r?.n ?? 0);
  }

  /** Waits until the store group has committed every message of the readings topic. */
  async function drained(): Promise<number> {
    const end = (await offsets.ends()).get(0)!;
    await waitUntil(async () => ((await offsets.read()).get(0) ?? 0) >= end, { what: `the store group to commit offset ${end}`, timeoutMs: 60_000, intervalMs: 200 });
    return end;
  }

  async function cli(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_') && k !== 'DATABASE_URL') env[k] = v;
    const r = await run(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'dlq', ...args, '--config', configFile], { env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, `dlq ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
    return r;
  }

  function jsonLines(stdout: string): { offset: number; code: string; gateway: string | null; seq: number | null; readings: number | null; action: string; sourceTopic: string | null }[] {
    return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as never);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-poison-'));
    kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
    await kafka.createTopics([{ name: READINGS, partitions: 1 }, { name: DLQ, partitions: 1 }]);
    producer = await Producer.connect(kafka.bootstrap);
    offsets = await CommittedOffsets.connect(kafka.bootstrap, STORE_GROUP, READINGS, 1);
    configFile = join(dir, 'cloud.yaml');
    writeFileSync(configFile, JSON.stringify(config({}), null, 2));
    cloud = await startCloud();
  });

  after(async () => {
    await cloud?.stop().catch(() => undefined);
    await offsets?.close().catch(() => undefined);
    await producer?.close().catch(() => undefined);
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends poison of every kind to the DLQ untouched with its code, stores every good batch between them, and commits past all of it', async () => {
    const batch = (gatewayId: string, seq: number, readings: ReadingBatch['readings'], over: Partial<ReadingBatch> = {}): ReturnType<typeof encodeBatch> =>
      encodeBatch({ gatewayId, seq, createdMs: now, readings, schemaVersion: 1, ...over });
    const reading = (deviceId: string, tsMs: number, metrics: Record<string, number> = { temperature: 21.5, humidity: 40 }) => ({ deviceId, tsMs, metrics });
    const tooMany = Array.from({ length: MAX_READINGS / 2 + 1 }, (_, i) => reading(`d${i}`, goodTs));
    const poisons: [string, string, Buffer | null, string, Headers][] = [
      ['random bytes', 'FL_ERR_WIRE_LZ4', Buffer.concat([Buffer.from([0]), randomBytes(63)]), 'gw-junk', { 'x-test': 'random' }],
      ['an LZ4 frame of garbage', 'FL_ERR_WIRE_PROTOBUF', lz4Frame(Buffer.from([0x0f, ...randomBytes(40)])), 'gw-junk', { 'content-encoding': 'lz4' }],
      ['no value at all', 'FL_ERR_WIRE_EMPTY', null, 'gw-junk', {}],
      ['a batch without a seq', 'FL_ERR_WIRE_BATCH_ID', ...fromBatch(batch('gw-noseq', 0, [reading('d1', goodTs)]))],
      ['a batch of schema major 3 (3000)', 'FL_ERR_WIRE_SCHEMA_VERSION', ...fromBatch(batch('gw-major3', 1, [reading('d1', goodTs)], { schemaVersion: 3000 }))],
      ['a batch with a reading a year ahead', 'FL_ERR_SINK_TIME_AHEAD', ...fromBatch(batch('gw-future', 1, [reading('d1', goodTs), reading('d2', now + 365 * DAY)]))],
      ['a batch with a reading from 1999', 'FL_ERR_SINK_TIME_TOO_EARLY', ...fromBatch(batch('gw-past', 1, [reading('d1', Date.UTC(1999, 11, 31))]))],
      ['a batch with an empty device id', 'FL_ERR_SINK_DEVICE_ID', ...fromBatch(batch('gw-nodev', 1, [reading('d1', goodTs), reading('', goodTs)]))],
      ['a batch with a control character in a metric name', 'FL_ERR_SINK_METRIC_NAME', ...fromBatch(batch('gw-ctl', 1, [reading('d1', goodTs, { 'temp\u0007': 1 })]))],
      ['a batch with a NaN value', 'FL_ERR_SINK_VALUE', ...fromBatch(batch('gw-nan', 1, [reading('d1', goodTs, { a: 1, b: Number.NaN })]))],
      ['an empty batch', 'FL_ERR_SINK_EMPTY_BATCH', ...fromBatch(batch('gw-empty', 1, []))],
      [`a batch of ${MAX_READINGS + 2} readings (limit ${MAX_READINGS})`, 'FL_ERR_SINK_TOO_MANY_READINGS', ...fromBatch(batch('gw-big', 1, tooMany))],
      // Two readings' timestamps, one value: columns (schema major 2) that do not add up.
      ['a batch whose columns do not add up', 'FL_ERR_WIRE_COLUMNS', lz4Frame(v1.ReadingBatch.encode({
        gatewayId: 'gw-cols', seq: 1, createdMs: now, schemaVersion: 2000, columns: [{ deviceId: 'c1', tsMsDelta: [goodTs, 1_000], metrics: [{ name: 'x', scaledDelta: [1] }] }],
      }).finish()), 'gw-cols', { [Header.gatewayId]: 'gw-cols', [Header.batchSeq]: '1', [Header.schemaVersion]: '2000' }],
    ];
    function fromBatch(m: ReturnType<typeof encodeBatch>): [Buffer, string, Headers] {
      return [m.value, m.key, headersOf(m)];
    }

    let seq = 0;
    const sendGood = async (name: string, value: Buffer, key: string, headers: Headers, values: number): Promise<void> => {
      good.push({ name, value, key, headers, offset: await producer.send(value, key, headers) });
      goodValues += values;
    };
    const sendPlainGood = async (): Promise<void> => {
      seq++;
      const m = batch('gw-good', seq, [reading('g1', goodTs + seq), reading('g2', goodTs + seq)]);
      await sendGood(`good batch ${seq}`, m.value, m.key, headersOf(m), 4);
    };
    for (const [name, code, value, key, headers] of poisons) {
      await sendPlainGood();
      poison.push({ name, code, value, key, headers, offset: await producer.send(value, key, headers) });
    }
    await sendPlainGood();
    // Schema evolution: a producer one revision ahead (new optional fields in Reading and
    // ReadingBatch, SCHEMA_VERSION + 1) is read in full; a header that disagrees with the field loses.
    const next = nextRevisionValue({
      gatewayId: 'gw-next', seq: 1, createdMs: now, schemaVersion: SCHEMA_VERSION + 1, site: 'plant-4', location: { lat: 52.37, lon: 4.89 },
      readings: [{ deviceId: 'n1', tsMs: goodTs, metrics: { a: 1, b: 2 }, batteryV: 3.7 }, { deviceId: 'n2', tsMs: goodTs, metrics: { c: 3 }, batteryV: 3.6 }],
    });
    await sendGood('next revision (SCHEMA_VERSION + 1)', next, 'gw-next', { [Header.gatewayId]: 'gw-next', [Header.batchSeq]: '1', [Header.schemaVersion]: String(SCHEMA_VERSION + 1) }, 3);
    // What a gateway sends by default (forward.encoding: columns, schema major 2) is stored whole.
    const cols = encodeBatchFromEncoded({ gatewayId: 'gw-columns', seq: 1, createdMs: now, values: 6 },
      [reading('c1', goodTs), reading('c2', goodTs), reading('c1', goodTs + 1_000)].map((r) => v1.Reading.encode(r).finish()), 'columns');
    assert.equal(cols.headers[Header.schemaVersion], '2000');
    await sendGood('columns (schema major 2)', cols.value, cols.key, headersOf(cols), 6);
    const liar = batch('gw-header', 1, [reading('h1', goodTs)]);
    await sendGood('schema-version header 2000, field 1', liar.value, liar.key, headersOf(liar, { [Header.schemaVersion]: '2000' }), 2);
    await sendPlainGood();

    const end = await drained();
    assert.equal(end, good.length + poison.length, 'the committed offset passes every message, poison included');

    // Each poison message is in the DLQ, in order, byte for byte, with its code and its origin.
    const dlq = await readAll(kafka.bootstrap, DLQ);
    assert.equal(dlq.length, poison.length, `DLQ holds ${dlq.map((d) => d.headers.find(([k]) => k === 'error')?.[1]).join(' | ')}`);
    poison.forEach((p, i) => {
      const d = dlq[i]!;
      const error = d.headers.find(([k]) => k === 'error')?.[1] ?? '';
      assert.ok(error.startsWith(`${p.code}: `), `${p.name}: error header ${JSON.stringify(error)} starts with ${p.code}`);
      assert.deepEqual(d.value, p.value, `${p.name}: the value is untouched`);
      assert.equal(d.key, p.key, `${p.name}: the key is kept`);
      assert.deepEqual(d.headers, [...Object.entries(p.headers), ['error', error], ['source-topic', READINGS], ['source-partition', '0'], ['source-offset', String(p.offset)]],
        `${p.name}: the original headers, then the sink's`);
    });

    // Every good batch is stored whole; nothing of any poisoned batch is.
    const expected = ['gw-good/1:4', 'gw-good/2:4', 'gw-good/3:4', 'gw-good/4:4', 'gw-good/5:4', 'gw-good/6:4', 'gw-good/7:4', 'gw-good/8:4', 'gw-good/9:4',
      'gw-good/10:4', 'gw-good/11:4', 'gw-good/12:4', 'gw-good/13:4', 'gw-good/14:4', 'gw-good/15:4', 'gw-columns/1:6', 'gw-header/1:2', 'gw-next/1:3'];
    assert.deepEqual(await ledger(), [...expected].sort());
    const [total] = await query<{ n: number | bigint }>('SELECT count(*) AS n FROM readings');
    assert.equal(Number(total?.n), goodValues, 'readings hold the good batches exactly');
    assert.equal(await rowsOf('gw-next'), 3, 'the next-revision batch is stored with all its readings');
    assert.equal(await rowsOf('gw-columns'), 6, 'the columns batch is stored with all its readings');
    assert.equal(await rowsOf('gw-future'), 0, 'the good reading of the future-dated batch waits in the DLQ with the rest of it');

    const text = await metrics();
    for (const p of poison) assert.match(text, new RegExp(`^fieldline_cloud_dead_letters_total\\{code="${p.code}"\\} 1$`, 'm'), p.name);
    assert.match(text, new RegExp(`^fieldline_cloud_dropped_total\\{stage="consume",reason="dead_letter"\\} ${poison.length}$`, 'm'));
    assert.match(text, /^fieldline_cloud_schema_header_mismatches_total 1$/m, 'the header that disagreed was counted, and the field used');
  });

  it('dlq list prints each message with its code, gateway, seq and readings, and commits nothing', async () => {
    const listed = jsonLines((await cli('list', '--json')).stdout);
    assert.deepEqual(listed.map((l) => [l.offset, l.code]), poison.map((p, i) => [i, p.code]));
    const future = listed.find((l) => l.code === 'FL_ERR_SINK_TIME_AHEAD')!;
    assert.deepEqual([future.gateway, future.seq, future.readings, future.sourceTopic], ['gw-future', 1, 4, READINGS]);
    const junk = listed.find((l) => l.code === 'FL_ERR_WIRE_LZ4')!;
    assert.deepEqual([junk.gateway, junk.seq], ['gw-junk', null], 'bytes that are no batch are described by their key');
    const table = (await cli('list', '--code', 'FL_ERR_SINK_VALUE')).stdout.trim().split('\n');
    assert.equal(table[0], 'partition\toffset\ttime\tcode\tgateway\tseq\treadings');
    assert.equal(table.length, 2);
    assert.match(table[1]!, /^0\t9\t\d{4}-\d\d-\d\dT[\d:.]+Z\tFL_ERR_SINK_VALUE\tgw-nan\t1\t2$/);
  });

  it('after the fix (skew limit raised, sink restarted), dlq replay stores the future-dated batch exactly once; a second run feeds nothing', async () => {
    await cloud!.stop();
    cloud = undefined;
    cloud = await startCloud({ maxFutureSkewMs: 2 * 365 * DAY });
    const readingsEnd = (await offsets.ends()).get(0)!;
    const rowsBefore = Number((await query<{ n: bigint }>('SELECT count(*) AS n FROM readings'))[0]?.n);

    const dry = jsonLines((await cli('replay', '--code', 'FL_ERR_SINK_TIME_AHEAD', '--dry-run', '--json')).stdout);
    assert.deepEqual(dry.filter((l) => l.action === 'would-replay').map((l) => l.gateway), ['gw-future']);
    assert.equal(dry.filter((l) => l.action === 'skipped').length, poison.length - 1);
    assert.equal((await offsets.ends()).get(0), readingsEnd, 'a dry run produces nothing');

    const first = await cli('replay', '--code', 'FL_ERR_SINK_TIME_AHEAD', '--json');
    assert.deepEqual(jsonLines(first.stdout).filter((l) => l.action === 'replayed').map((l) => [l.gateway, l.seq, l.sourceTopic]), [['gw-future', 1, READINGS]]);
    assert.match(first.stderr, /1 replayed, 12 left out by the filter/);
    assert.equal((await offsets.ends()).get(0), readingsEnd + 1, 'one message fed back to iot.readings');
    await drained();
    assert.equal(await rowsOf('gw-future'), 4, 'the future-dated batch is stored whole: its 4 readings');
    assert.ok((await ledger()).includes('gw-future/1:4'));

    const second = await cli('replay', '--code', 'FL_ERR_SINK_TIME_AHEAD', '--json');
    assert.deepEqual(jsonLines(second.stdout), [], 'the second run reads nothing: its group is past every message');
    assert.match(second.stderr, /0 replayed/);
    assert.equal((await offsets.ends()).get(0), readingsEnd + 1, 'and feeds nothing');
    assert.equal(Number((await query<{ n: bigint }>('SELECT count(*) AS n FROM readings'))[0]?.n), rowsBefore + 4);
    assert.equal((await readAll(kafka.bootstrap, DLQ)).length, poison.length, 'nothing went back to the DLQ');
  });

  it('an unfiltered replay sends the unfixable back to the DLQ with their codes, and the ledger stores the re-fed fixed batch no second time', async () => {
    const rowsBefore = Number((await query<{ n: bigint }>('SELECT count(*) AS n FROM readings'))[0]?.n);
    const ledgerBefore = await ledger();
    const r = await cli('replay', '--json');
    assert.equal(jsonLines(r.stdout).filter((l) => l.action === 'replayed').length, poison.length, 'its own group starts at the DLQ beginning');
    await drained();
    const unfixable = poison.filter((p) => p.code !== 'FL_ERR_SINK_TIME_AHEAD');
    await waitUntil(async () => (await readAll(kafka.bootstrap, DLQ)).length >= poison.length + unfixable.length, { what: 'the unfixable back in the DLQ', timeoutMs: 30_000 });
    const back = (await readAll(kafka.bootstrap, DLQ)).slice(poison.length);
    assert.deepEqual(back.map((d) => d.headers.find(([k]) => k === 'error')?.[1]?.split(':')[0]), unfixable.map((p) => p.code));
    back.forEach((d, i) => {
      assert.deepEqual(d.value, unfixable[i]!.value, `${unfixable[i]!.name}: the same bytes`);
      assert.deepEqual(d.headers.slice(0, -4), Object.entries(unfixable[i]!.headers), `${unfixable[i]!.name}: the original headers, without the first DLQ visit's`);
    });
    assert.equal(Number((await query<{ n: bigint }>('SELECT count(*) AS n FROM readings'))[0]?.n), rowsBefore, 'no reading stored twice');
    assert.deepEqual(await ledger(), ledgerBefore);
    assert.match(await metrics(), /^fieldline_cloud_dropped_total\{stage="store",reason="duplicate_batch"\} 1$/m, 'the ledger skipped the future-dated batch fed again');
  });
});
