// Cloud store ingest: rows/s written by Store.ingest into the embedded TimescaleDB (PGlite, data
// directory on a disk), readings, the ledger and the continuous aggregates' invalidations in one
// transaction per call, four batches per call as the consumer hands over a poll's worth. The rate
// used to be a floor in test/store/store.behaviour.ts; the test now checks only that every row is
// stored once, and the figure is measured and reported here. Every row is recounted afterwards.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Reading } from '../proto/src/wire.js';
import { openEmbedded } from '../cloud-sink/src/store/db.js';
import { Store, type IngestBatch } from '../cloud-sink/src/store/store.js';
import { benchDataDir } from './data-dir.js';
import { describeFilesystem } from './disk-io.js';
import { runIfMain } from './run-alone.js';

export interface StoreBenchOptions {
  /** Batches ingested (each `readingsPerBatch` device messages of two metrics). Default 200. */
  batches?: number;
  readingsPerBatch?: number;
  /** Batches per Store.ingest call. */
  batchesPerCall?: number;
}

export interface StoreBenchResult {
  backend: string;
  rowsPerSecond: number;
  rows: number;
  seconds: number;
  batches: number;
  batchesPerCall: number;
  /** Rows counted in `readings` afterwards; equals `rows` or the bench fails. */
  rowsStored: number;
  filesystem: string;
}

const BASE = Date.UTC(2025, 0, 15, 8, 0, 0);

/**
 * The store benches' rows: `count` batches of `perBatch` device messages from 100 devices, each
 * with two metrics (temp, hum), one message every `spacingMs` (default 1000). At the default each
 * device sends every 100 s, so nearly every (device, metric, minute) holds one reading: the
 * rollups' worst case. At 10 ms each device sends every second: 60 readings a bucket.
 */
export function makeBenchBatches(count: number, perBatch: number, spacingMs = 1000): IngestBatch[] {
  const batches: IngestBatch[] = [];
  for (let s = 0; s < count; s++) {
    const readings: Reading[] = [];
    for (let i = 0; i < perBatch; i++) {
      readings.push({ deviceId: `bench-${i % 100}`, tsMs: BASE + (s * perBatch + i) * spacingMs, metrics: { temp: 20 + (i % 7), hum: 40 + (i % 11) } });
    }
    batches.push({ gatewayId: 'gw-bench', seq: s + 1, createdMs: BASE + s, readings });
  }
  return batches;
}

export async function benchStore(opts: StoreBenchOptions = {}): Promise<StoreBenchResult> {
  const batchCount = opts.batches ?? 200;
  const perBatch = opts.readingsPerBatch ?? 2500;
  const perCall = opts.batchesPerCall ?? 4;
  const batches = makeBenchBatches(batchCount, perBatch);
  const { dir, filesystem } = benchDataDir('fieldline-bench-store-');
  const store = new Store(await openEmbedded(join(dir, 'pgdata')));
  try {
    await store.migrate();
    let rows = 0;
    const started = performance.now();
    for (let i = 0; i < batches.length; i += perCall) rows += (await store.ingest(batches.slice(i, i + perCall))).rowsInserted;
    const seconds = (performance.now() - started) / 1000;
    const rowsStored = await store.countReadings();
    const expected = batchCount * perBatch * 2;
    if (rows !== expected || rowsStored !== expected) throw new Error(`store bench is not honest: ${rows} rows inserted, ${rowsStored} stored, ${expected} expected`);
    return {
      backend: 'embedded PGlite + TimescaleDB',
      rowsPerSecond: Math.round(rows / seconds),
      rows,
      seconds: Number(seconds.toFixed(2)),
      batches: batchCount,
      batchesPerCall: perCall,
      rowsStored,
      filesystem: describeFilesystem(filesystem),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/store.js` runs it alone.
runIfMain(import.meta.url, () => benchStore());
