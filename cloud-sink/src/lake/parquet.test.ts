import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ParquetWriter } from './parquet.js';
import type { BufferedMessage, LakeRow } from './rows.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-parquet-'));
let writer: ParquetWriter;
before(async () => {
  writer = await ParquetWriter.open({ threads: 1, memoryLimit: '256MB', tempDirectory: join(dir, 'tmp'), rowGroupSize: 2_048, compressionLevel: 3 });
});
after(() => {
  writer.close();
  rmSync(dir, { recursive: true, force: true });
});

function message(offset: number, gatewayId: string, seq: number, rows: LakeRow[], skipped: string | null = null): BufferedMessage {
  return { offset, gatewayId, seq, rows, rejected: 0, skipped, bytes: 0, arrivedMs: 0 };
}

async function read(path: string): Promise<{ rows: unknown[][]; groups: number }> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    const rows = (await c.runAndReadAll(`SELECT epoch_us(ts), gateway_id, device_id, metric, value, batch_seq FROM read_parquet('${path}')`)).getRowsJS();
    const groups = Number((await c.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS n FROM parquet_metadata('${path}')`)).getRowObjectsJS()[0]!.n);
    return { rows, groups };
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

describe('ParquetWriter', () => {
  it('writes one file per UTC hour, rows sorted by device, metric, time, a batch repeated in the range once, skipped messages not at all', async () => {
    const h = Date.UTC(2025, 6, 1, 10, 0, 0);
    const rows = (base: number, devices: string[]): LakeRow[] =>
      devices.flatMap((d, i) => [{ tsMs: base + i, deviceId: d, metric: 'b', value: i }, { tsMs: base + i, deviceId: d, metric: 'a', value: -i }]);
    const messages = [
      message(7, 'gw', 1, rows(h + 3_599_999, ['z', 'y'])), // the last ms of 10:00 and the first of 11:00
      message(8, 'gw', 1, rows(h + 3_599_999, ['z', 'y'])), // the same batch again
      message(9, '', 0, [], 'FL_ERR_WIRE_LZ4'),
      message(10, 'gw', 2, rows(h + 100, ['x'])),
    ];
    const out = await writer.writeRange({ partition: 2, start: 7, end: 10 }, messages, dir);
    assert.equal(out.rows, 6);
    assert.equal(out.duplicateBatches, 1);
    assert.deepEqual(out.files.map((f) => [f.key, f.rows]), [
      ['readings/date=2025-07-01/hour=10/part-p002-o00000000000000000007-00000000000000000010.parquet', 4],
      ['readings/date=2025-07-01/hour=11/part-p002-o00000000000000000007-00000000000000000010.parquet', 2],
    ]);
    const first = await read(out.files[0]!.path);
    const us = (ms: number): bigint => BigInt(ms) * 1000n;
    assert.deepEqual(first.rows, [
      [us(h + 100), 'gw', 'x', 'a', -0, 2n],
      [us(h + 100), 'gw', 'x', 'b', 0, 2n],
      [us(h + 3_599_999), 'gw', 'z', 'a', -0, 1n],
      [us(h + 3_599_999), 'gw', 'z', 'b', 0, 1n],
    ]);
  });

  it('keeps every millisecond exact, before 1970 and far ahead, and cuts row groups at rowGroupSize', async () => {
    // 5,000 rows at one a 0.7 s stay within one hour.
    const times = [Date.UTC(1960, 0, 1, 0, 0, 0, 1), Date.UTC(2025, 0, 1, 0, 0, 0, 999), 8_000_000_000_000_000];
    const many: LakeRow[] = Array.from({ length: 5_000 }, (_, i) => ({ tsMs: times[1]! + i * 700, deviceId: 'd', metric: 'm', value: i }));
    const out = await writer.writeRange({ partition: 0, start: 0, end: 3 }, [
      message(0, 'gw', 1, [{ tsMs: times[0]!, deviceId: 'old', metric: 'm', value: 1 }]),
      message(1, 'gw', 2, many.slice(0, 2_500)),
      message(2, 'gw', 3, many.slice(2_500)),
      message(3, 'gw', 4, [{ tsMs: times[2]!, deviceId: 'far', metric: 'm', value: 2 }]),
    ], dir);
    const got: bigint[] = [];
    let maxGroups = 0;
    for (const f of out.files) {
      const r = await read(f.path);
      got.push(...r.rows.map((row) => row[0] as bigint));
      maxGroups = Math.max(maxGroups, r.groups);
    }
    assert.ok(got.includes(BigInt(times[0]!) * 1000n) && got.includes(BigInt(times[2]!) * 1000n) && got.includes(BigInt(times[1]!) * 1000n));
    assert.equal(maxGroups, 3, '5,000 rows in one hour at 2,048 a row group');
  });
});
