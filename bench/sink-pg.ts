// Cloud store ingest on a real PostgreSQL 15 (issue 10, acceptance 5): Store.ingest with its
// ledger and rollups, beside a plain binary COPY of exactly the same rows into a bare table with
// readings' columns and its (device_id, metric, ts DESC) index and nothing else. Calls alternate
// between the two (Store.ingest, then the COPY of the same call's rows), so a change in the
// machine's load falls on both alike. Everything is counted back before the figures are reported:
// the rows in readings and in the bare table, and each rollup's count sum, must equal the rows sent.
// Run alone: `node dist/bench/sink-pg.js` (BENCH_PG_BATCHES, default 200; BENCH_PG_SPACING_MS, the
// time between two device messages, default 1000 as in bench/store.ts).
import { BinaryCopyWriter, epochMsToUs } from '../cloud-sink/src/store/copy.js';
import { openPostgres, type Db } from '../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../cloud-sink/src/store/store.js';
import { startPostgres } from '../devstack/postgres.js';
import { createBare } from './rollup-options.js';
import { runIfMain } from './run-alone.js';
import { makeBenchBatches } from './store.js';

export interface SinkPgBenchOptions {
  batches?: number;
  readingsPerBatch?: number;
  batchesPerCall?: number;
  /** Time between two device messages (100 devices in turn); 1000 puts ~1 reading in each (device, metric, minute). */
  spacingMs?: number;
}

export interface SinkPgBenchResult {
  backend: string;
  rows: number;
  batches: number;
  batchesPerCall: number;
  spacingMs: number;
  storeRowsPerSecond: number;
  bareCopyRowsPerSecond: number;
  /** storeRowsPerSecond / bareCopyRowsPerSecond; the target is ≥ 0.7. */
  ratio: number;
  storeSeconds: number;
  bareSeconds: number;
  /** Rows counted back in readings and in the bare table, and each rollup's count sum: all equal `rows`. */
  counted: { readings: number; bare: number; readings_1m: number; readings_1h: number; readings_1d: number };
  server: string;
}

function bareCopy(batches: readonly IngestBatch[]): Buffer[] {
  const w = new BinaryCopyWriter(5);
  for (const b of batches) {
    for (const r of b.readings) {
      for (const [metric, value] of Object.entries(r.metrics ?? {})) {
        w.beginRow(w.rowBytes([b.gatewayId, r.deviceId!, metric], 24));
        w.timestampUs(epochMsToUs(r.tsMs!));
        w.textField(b.gatewayId);
        w.textField(r.deviceId!);
        w.textField(metric);
        w.float8(value);
      }
    }
  }
  return w.finish();
}

async function count(db: Db, sql: string): Promise<number> {
  return Number((await db.query<{ n: number | string }>(sql)).rows[0]?.n ?? 0);
}

export async function benchSinkPg(opts: SinkPgBenchOptions = {}): Promise<SinkPgBenchResult> {
  const batchCount = opts.batches ?? 200;
  const perBatch = opts.readingsPerBatch ?? 2500;
  const perCall = opts.batchesPerCall ?? 4;
  const spacingMs = opts.spacingMs ?? 1000;
  const batches = makeBenchBatches(batchCount, perBatch, spacingMs);
  const expected = batchCount * perBatch * 2;
  const server = await startPostgres();
  const db = await openPostgres(await server.createDatabase('sink_bench'), 2);
  try {
    const store = new Store(db);
    await store.migrate();
    await createBare(db);
    const version = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
    const settings = (await db.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers') ORDER BY name`,
    )).rows.map((r) => `${r.name}=${r.setting}`).join(', ');
    await db.query('CHECKPOINT');
    let storeSeconds = 0;
    let bareSeconds = 0;
    let rows = 0;
    let bareRows = 0;
    for (let i = 0; i < batches.length; i += perCall) {
      const call = batches.slice(i, i + perCall);
      let t = performance.now();
      rows += (await store.ingest(call)).rowsInserted;
      storeSeconds += (performance.now() - t) / 1000;
      t = performance.now();
      bareRows += await db.transaction((tx) => tx.copyFrom!('COPY bare (ts, gateway_id, device_id, metric, value) FROM STDIN (FORMAT binary)', bareCopy(call)));
      bareSeconds += (performance.now() - t) / 1000;
    }
    const counted = {
      readings: await count(db, 'SELECT count(*) AS n FROM readings'),
      bare: await count(db, 'SELECT count(*) AS n FROM bare'),
      readings_1m: await count(db, 'SELECT sum(count) AS n FROM readings_1m'),
      readings_1h: await count(db, 'SELECT sum(count) AS n FROM readings_1h'),
      readings_1d: await count(db, 'SELECT sum(count) AS n FROM readings_1d'),
    };
    if (rows !== expected || bareRows !== expected || Object.values(counted).some((n) => n !== expected)) {
      throw new Error(`sink-pg bench is not honest: ${rows} ingested, ${bareRows} copied, counted ${JSON.stringify(counted)}, ${expected} sent`);
    }
    const storeRowsPerSecond = Math.round(rows / storeSeconds);
    const bareCopyRowsPerSecond = Math.round(bareRows / bareSeconds);
    return {
      backend: `PostgreSQL ${version} (devstack/postgres.ts: ${settings})`,
      rows,
      batches: batchCount,
      batchesPerCall: perCall,
      spacingMs,
      storeRowsPerSecond,
      bareCopyRowsPerSecond,
      ratio: Number((storeRowsPerSecond / bareCopyRowsPerSecond).toFixed(2)),
      storeSeconds: Number(storeSeconds.toFixed(2)),
      bareSeconds: Number(bareSeconds.toFixed(2)),
      counted,
      server: server.dir,
    };
  } finally {
    await db.close();
    await server.destroy();
  }
}

runIfMain(import.meta.url, () =>
  benchSinkPg({ batches: Number(process.env.BENCH_PG_BATCHES ?? 200), spacingMs: Number(process.env.BENCH_PG_SPACING_MS ?? 1000) }),
);
