// Turns a range of buffered messages into Parquet files with DuckDB: one file per UTC hour the
// readings' own times touch, rows sorted by device_id, metric, ts (so a device's readings sit
// together and row-group statistics let a reader skip the rest), zstd pages.
//
// Rows go in through DuckDB's appender into a temporary table and out through COPY … TO: DuckDB
// writes the Parquet (column encodings, statistics, row groups) and the sort in native code.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { openDuck, sqlString, type Duck, type DuckOptions } from './duckdb.js';
import { fileKey, hourOf, rangeName, type OffsetRange } from './layout.js';
import type { BufferedMessage, LakeRow } from './rows.js';

export interface ParquetOptions extends DuckOptions {
  rowGroupSize: number;
  compressionLevel: number;
}

export interface StagedFile {
  key: string;
  hour: number;
  /** The finished file in the staging folder, ready for LakeDestination.put(). */
  path: string;
  rows: number;
  bytes: number;
}

export interface WrittenRange {
  files: StagedFile[];
  rows: number;
  /** Messages whose batch (gateway, seq) already came earlier in the range: written once. */
  duplicateBatches: number;
}

interface HourRows {
  rows: LakeRow[];
  gatewayIds: string[];
  seqs: number[];
}

export class ParquetWriter {
  private constructor(
    private readonly duck: Duck,
    private readonly opts: ParquetOptions,
  ) {}

  static async open(opts: ParquetOptions): Promise<ParquetWriter> {
    return new ParquetWriter(await openDuck(opts), opts);
  }

  /**
   * Writes `messages` (the range's, in offset order) into `dir`. The same messages give the same
   * files with the same rows, whatever happened before: a replay must rewrite what the first
   * writer wrote. That is why duplicates are looked for within the range only.
   */
  async writeRange(range: OffsetRange, messages: readonly BufferedMessage[], dir: string): Promise<WrittenRange> {
    const seen = new Set<string>();
    const byHour = new Map<number, HourRows>();
    let duplicateBatches = 0;
    let total = 0;
    for (const m of messages) {
      if (m.skipped !== null) continue;
      // The store skips a batch its ledger already holds; within a range the lake does the same.
      const id = `${m.gatewayId}\u0000${m.seq}`;
      if (seen.has(id)) {
        duplicateBatches++;
        continue;
      }
      seen.add(id);
      for (const r of m.rows) {
        const h = hourOf(r.tsMs);
        let bucket = byHour.get(h);
        if (!bucket) byHour.set(h, (bucket = { rows: [], gatewayIds: [], seqs: [] }));
        bucket.rows.push(r);
        bucket.gatewayIds.push(m.gatewayId);
        bucket.seqs.push(m.seq);
        total++;
      }
    }
    const files: StagedFile[] = [];
    const base = rangeName(range);
    for (const hour of [...byHour.keys()].sort((a, b) => a - b)) {
      const path = join(dir, `${base}-h${hour}.parquet.tmp`);
      const rows = byHour.get(hour)!;
      await this.writeFile(rows, path);
      files.push({ key: fileKey(range, hour), hour, path, rows: rows.rows.length, bytes: (await stat(path)).size });
    }
    return { files, rows: total, duplicateBatches };
  }

  close(): void {
    this.duck.close();
  }

  private async writeFile(h: HourRows, path: string): Promise<void> {
    const { conn } = this.duck;
    // ts_ms is an int64 on the wire, so the epoch milliseconds are whole numbers below 2^53 and
    // travel exactly as doubles into the BIGINT column; ms * 1000 is then exact BIGINT arithmetic.
    await conn.run(`CREATE OR REPLACE TEMP TABLE lake_stage (n INTEGER, ms BIGINT, gateway_id VARCHAR, device_id VARCHAR, metric VARCHAR, value DOUBLE, batch_seq BIGINT)`);
    try {
      const a = await conn.createAppender('lake_stage');
      try {
        for (let i = 0; i < h.rows.length; i++) {
          const r = h.rows[i]!;
          a.appendInteger(i);
          a.appendDouble(r.tsMs);
          a.appendVarchar(h.gatewayIds[i]!);
          a.appendVarchar(r.deviceId);
          a.appendVarchar(r.metric);
          a.appendDouble(r.value);
          a.appendDouble(h.seqs[i]!);
          a.endRow();
        }
        a.flushSync();
      } finally {
        a.closeSync();
      }
      // n, the arrival order, breaks ties, so a rewrite of the range is the same file. value must
      // not be a sort key: DuckDB's sort turns -0 into 0 in the columns it sorts by.
      await conn.run(
        `COPY (SELECT make_timestamptz(ms * 1000) AS ts, gateway_id, device_id, metric, value, batch_seq
                 FROM lake_stage
                ORDER BY device_id, metric, ts, n)
           TO ${sqlString(path)}
           (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${this.opts.compressionLevel}, ROW_GROUP_SIZE ${this.opts.rowGroupSize})`,
      );
    } finally {
      await conn.run('DROP TABLE IF EXISTS lake_stage');
    }
  }
}
