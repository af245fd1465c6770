// The query bench's data: a week and a bit of readings in PostgreSQL (readings and the rollups the
// sink keeps on vanilla PostgreSQL) and a year before it in the Parquet lake only.
//
// Loading 10 M rows through Store.ingest would take longer than the whole bench may (the sink-pg
// bench measures 35-95 k rows/s here), so the rows are generated in this process and streamed by
// binary COPY (the sink's BinaryCopyWriter), and readings_1m/1h/1d are folded from exactly those
// rows and copied in beside them, each bucket as the sink first inserts it (avg = sum / count).
// The fold is a streaming one (SeriesFold: rows come in time order per series, so a bucket is
// done when the next one starts) because RollupFold's maps cost more than generating the rows;
// bench/query-data.test.ts checks that the two fold alike, and the bench checks each rollup's
// count sum against readings before measuring anything. readings' indexes are dropped for the load
// and made again from their own definitions (pg_indexes), cheaper than keeping them up to date row
// by row.
//
// The lake is written by the lake's own ParquetWriter, one offset range per day of readings (so
// one file per UTC hour, in readings/date=…/hour=…/ as the worker lays them out) and moved in place
// by the LocalDestination, so LakeReader reads it as it reads the worker's files.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalDestination } from '../cloud-sink/src/lake/local.js';
import { ParquetWriter } from '../cloud-sink/src/lake/parquet.js';
import type { BufferedMessage, LakeRow } from '../cloud-sink/src/lake/rows.js';
import { BinaryCopyWriter, epochMsToUs } from '../cloud-sink/src/store/copy.js';
import type { Db, DbTx } from '../cloud-sink/src/store/db.js';
import { bucketStart, DAY_US, HOUR_US, MINUTE_US, type PartialBucket } from '../cloud-sink/src/store/rollup.js';
import { ROLLUPS } from '../cloud-sink/src/store/schema.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export interface QueryDataShape {
  /** Devices in the database, `qb-dev-0000`…; each reports every metric every `stepMs`. */
  devices: number;
  metrics: readonly string[];
  stepMs: number;
  /** Days of readings in the database, ending at `hotEndMs` (exclusive, a whole hour). */
  hotDays: number;
  hotEndMs: number;
  /** The first `lakeDevices` devices also have `lakeDays` of older readings in the lake, every `lakeStepMs`, ending where the database's begin. */
  lakeDevices: number;
  lakeDays: number;
  lakeStepMs: number;
  devicesPerGateway: number;
}

export function deviceId(n: number): string {
  return `qb-dev-${String(n).padStart(4, '0')}`;
}

export function gatewayOf(shape: QueryDataShape, device: number): string {
  return `qb-gw-${String(Math.floor(device / shape.devicesPerGateway)).padStart(3, '0')}`;
}

export function hotStartMs(shape: QueryDataShape): number {
  return shape.hotEndMs - shape.hotDays * DAY_MS;
}

/** The lake's readings end where the database's begin. */
export function lakeRangeMs(shape: QueryDataShape): { fromMs: number; toMs: number } {
  const toMs = hotStartMs(shape);
  return { fromMs: toMs - shape.lakeDays * DAY_MS, toMs };
}

/**
 * A sensor-like value with two decimals: a daily swing per device and metric plus noise from a hash
 * of (device, metric, time), so any process can say what a reading is without storing it.
 */
export function valueAt(device: number, metric: number, tsMs: number): number {
  let h = Math.imul(device + 1, 0x9e3779b1) ^ Math.imul(metric + 1, 0x85ebca77) ^ Math.imul(Math.floor(tsMs / 1000) | 0, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  const noise = ((h >>> 0) % 1000) / 100;
  const swing = 5 * Math.sin((tsMs / DAY_MS) * 2 * Math.PI + device);
  return Math.round((20 * (metric + 1) + swing + noise) * 100) / 100;
}

export interface HotLoad {
  rows: number;
  rollupRows: { readings_1m: number; readings_1h: number; readings_1d: number };
  seconds: number;
  /** Of which rebuilding readings' indexes and ANALYZE. */
  indexSeconds: number;
}

/** Devices per transaction: a chunk's minute partials are held in memory until its COPY. */
const CHUNK_DEVICES = 10;

/**
 * Fills readings, readings_1m/1h/1d, devices and gateways of a freshly migrated vanilla
 * PostgreSQL database (no TimescaleDB: its rollups are continuous aggregates, not tables).
 */
export async function loadHot(db: Db, shape: QueryDataShape): Promise<HotLoad> {
  const started = performance.now();
  const indexes = (await db.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'readings'`,
  )).rows;
  for (const ix of indexes) await db.query(`DROP INDEX ${ix.indexname}`);
  const from = hotStartMs(shape);
  const steps = Math.floor((shape.hotDays * DAY_MS) / shape.stepMs);
  let rows = 0;
  const rollupRows = { readings_1m: 0, readings_1h: 0, readings_1d: 0 };
  // Two transactions at a time: the server's COPY work, not the generating here, is the slower side.
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let first = next; first < shape.devices; first = next) {
      next = first + CHUNK_DEVICES;
      const last = Math.min(shape.devices, first + CHUNK_DEVICES);
      const levels: PartialBucket[][] = ROLLUPS.map(() => []);
      await db.transaction(async (tx) => {
        // Counted after each await: the other transaction adds to the same totals meanwhile.
        const copied = await copy(tx, 'COPY readings (ts, gateway_id, device_id, metric, value) FROM STDIN (FORMAT binary)', hotRows(shape, first, last, from, steps, levels));
        rows += copied;
        for (let i = 0; i < ROLLUPS.length; i++) {
          const view = ROLLUPS[i]!.view;
          const buckets = await copy(tx, `COPY ${view} (bucket, device_id, metric, avg, min, max, count, last, last_ts) FROM STDIN (FORMAT binary)`, rollupCopy(levels[i]!));
          rollupRows[view] += buckets;
        }
      });
    }
  };
  await Promise.all([worker(), worker()]);
  const indexStarted = performance.now();
  for (const ix of indexes) await db.query(ix.indexdef);
  await db.query('ANALYZE');
  const indexSeconds = (performance.now() - indexStarted) / 1000;

  const devices = Array.from({ length: shape.devices }, (_, d) => d);
  const lake = lakeRangeMs(shape);
  await db.query(
    `INSERT INTO devices (device_id, gateway_id, first_seen, last_seen, metrics)
     SELECT u.id, u.gw, to_timestamp(u.first_ms / 1000.0), to_timestamp($4 / 1000.0), $5::text[]
       FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(id, gw, first_ms)`,
    [
      devices.map(deviceId),
      devices.map((d) => gatewayOf(shape, d)),
      devices.map((d) => (d < shape.lakeDevices ? lake.fromMs : from)),
      from + (steps - 1) * shape.stepMs,
      [...shape.metrics].sort(),
    ],
  );
  await db.query(
    `INSERT INTO gateways (gateway_id, first_seen, last_seen, last_seq, batches_ingested, readings_ingested)
     SELECT DISTINCT gateway_id, now(), now(), 0, 0, 0 FROM devices`,
  );
  return { rows, rollupRows, seconds: (performance.now() - started) / 1000, indexSeconds };
}

async function copy(tx: DbTx, sql: string, data: Iterable<Buffer>): Promise<number> {
  if (!tx.copyFrom) throw new Error('the query bench loads PostgreSQL by COPY; this database has none');
  return tx.copyFrom(sql, data);
}

function* hotRows(shape: QueryDataShape, first: number, last: number, fromMs: number, steps: number, levels: PartialBucket[][]): Generator<Buffer> {
  const w = new BinaryCopyWriter(5);
  for (let d = first; d < last; d++) {
    const id = deviceId(d);
    const gw = gatewayOf(shape, d);
    for (let m = 0; m < shape.metrics.length; m++) {
      const metric = shape.metrics[m]!;
      const bytes = w.rowBytes([gw, id, metric], 24);
      const fold = new SeriesFold(id, metric, levels);
      for (let i = 0; i < steps; i++) {
        const ts = fromMs + i * shape.stepMs;
        const value = valueAt(d, m, ts);
        const us = epochMsToUs(ts);
        w.beginRow(bytes);
        w.timestampUs(us);
        w.textField(gw);
        w.textField(id);
        w.textField(metric);
        w.float8(value);
        fold.add(us, value);
      }
      fold.end();
      yield* w.take();
    }
  }
  yield* w.finish();
}

const WIDTHS_US = [MINUTE_US, HOUR_US, DAY_US] as const;

/**
 * One series' (device, metric) rows folded into minute, hour and day buckets exactly as rollup.ts
 * folds them: minutes from the rows, each hour from its minutes and each day from its hours, in
 * bucket order, so even the floating-point sums come out the same. Rows must come in ascending time
 * order. Finished buckets are appended to `out[level]`, sorted by bucket within the series.
 */
export class SeriesFold {
  private readonly open: (PartialBucket | null)[] = WIDTHS_US.map(() => null);

  constructor(
    private readonly deviceId: string,
    private readonly metric: string,
    private readonly out: PartialBucket[][],
  ) {}

  add(us: number, value: number): void {
    this.merge(0, { bucketUs: 0, deviceId: this.deviceId, metric: this.metric, sum: value, count: 1, min: value, max: value, last: value, lastUs: us }, us);
  }

  /** Hands over the buckets still open; the fold is spent afterwards. */
  end(): void {
    for (let level = 0; level < WIDTHS_US.length; level++) {
      const b = this.open[level];
      this.open[level] = null;
      if (!b) continue;
      this.out[level]!.push(b);
      if (level + 1 < WIDTHS_US.length) this.merge(level + 1, b, b.bucketUs);
    }
  }

  /** Folds `p` (a row, or a finished bucket of the level below, whose time is `us`) into `level`. */
  private merge(level: number, p: PartialBucket, us: number): void {
    const bucketUs = bucketStart(us, WIDTHS_US[level]!);
    const b = this.open[level];
    if (b && b.bucketUs === bucketUs) {
      b.sum += p.sum;
      b.count += p.count;
      if (p.min < b.min) b.min = p.min;
      if (p.max > b.max) b.max = p.max;
      if (p.lastUs >= b.lastUs) {
        b.last = p.last;
        b.lastUs = p.lastUs;
      }
      return;
    }
    if (b) {
      if (bucketUs < b.bucketUs) throw new RangeError(`SeriesFold takes rows in time order: ${us} came after bucket ${b.bucketUs}`);
      this.out[level]!.push(b);
      if (level + 1 < WIDTHS_US.length) this.merge(level + 1, b, b.bucketUs);
    }
    // A row's partial is this call's own object; a finished bucket below is kept as it was.
    this.open[level] = level === 0 ? Object.assign(p, { bucketUs }) : { ...p, bucketUs };
  }
}

/** Buckets as the sink first inserts them (schema.ts rollupMergeStaged: avg = sum / count). */
function* rollupCopy(parts: readonly PartialBucket[]): Generator<Buffer> {
  const w = new BinaryCopyWriter(9);
  for (const p of parts) {
    w.beginRow(w.rowBytes([p.deviceId, p.metric], 12 * 7));
    w.timestampUs(p.bucketUs);
    w.textField(p.deviceId);
    w.textField(p.metric);
    w.float8(p.sum / p.count);
    w.float8(p.min);
    w.float8(p.max);
    w.int8(p.count);
    w.float8(p.last);
    w.timestampUs(p.lastUs);
    if (w.rows % 4096 === 0) yield* w.take();
  }
  yield* w.finish();
}

export interface LakeLoad {
  rows: number;
  files: number;
  bytes: number;
  seconds: number;
}

/** ParquetWriters at work at once: DuckDB writes on its own threads, so two overlap well. */
const LAKE_WRITERS = 2;

/**
 * Writes the lake's year into `lakeDir` (the local destination's root): per day one Kafka-like
 * offset range of per-gateway-per-hour messages on partition 0, written by ParquetWriter and put in
 * place by LocalDestination.
 */
export async function writeLake(lakeDir: string, shape: QueryDataShape): Promise<LakeLoad> {
  const started = performance.now();
  const dest = new LocalDestination(lakeDir);
  await dest.open();
  const gateways = Math.ceil(shape.lakeDevices / shape.devicesPerGateway);
  let rows = 0;
  let files = 0;
  let bytes = 0;
  const writeDays = async (k: number): Promise<void> => {
    const staging = join(dest.stagingRoot, `bench-${k}`);
    mkdirSync(staging, { recursive: true });
    const writer = await ParquetWriter.open({ threads: 1, memoryLimit: '512MB', tempDirectory: join(staging, 'duckdb'), rowGroupSize: 122_880, compressionLevel: 3 });
    try {
      for (let day = k; day < shape.lakeDays; day += LAKE_WRITERS) {
        const messages = lakeDay(shape, day, gateways);
        const range = { partition: 0, start: messages[0]!.offset, end: messages.at(-1)!.offset };
        const written = await writer.writeRange(range, messages, staging);
        for (const f of written.files) {
          await dest.put(f.key, f.path);
          files++;
          bytes += f.bytes;
        }
        rows += written.rows;
      }
    } finally {
      writer.close();
    }
  };
  await Promise.all(Array.from({ length: LAKE_WRITERS }, (_, k) => writeDays(k)));
  return { rows, files, bytes, seconds: (performance.now() - started) / 1000 };
}

/** A day of the lake as messages: one per gateway and hour, offsets and seqs following on from the day before. */
function lakeDay(shape: QueryDataShape, day: number, gateways: number): BufferedMessage[] {
  const { fromMs } = lakeRangeMs(shape);
  const perHour = Math.floor(HOUR_MS / shape.lakeStepMs);
  const messages: BufferedMessage[] = [];
  for (let hour = 0; hour < 24; hour++) {
    const hourMs = fromMs + day * DAY_MS + hour * HOUR_MS;
    for (let g = 0; g < gateways; g++) {
      const rows: LakeRow[] = [];
      const lastDevice = Math.min(shape.lakeDevices, (g + 1) * shape.devicesPerGateway);
      for (let d = g * shape.devicesPerGateway; d < lastDevice; d++) {
        const id = deviceId(d);
        for (let i = 0; i < perHour; i++) {
          const tsMs = hourMs + i * shape.lakeStepMs;
          for (let m = 0; m < shape.metrics.length; m++) rows.push({ tsMs, deviceId: id, metric: shape.metrics[m]!, value: valueAt(d, m, tsMs) });
        }
      }
      messages.push({
        offset: (day * 24 + hour) * gateways + g,
        gatewayId: gatewayOf(shape, g * shape.devicesPerGateway),
        seq: day * 24 + hour + 1,
        rows,
        rejected: 0,
        skipped: null,
        bytes: 0,
        arrivedMs: 0,
      });
    }
  }
  return messages;
}
