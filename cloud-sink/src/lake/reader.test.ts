import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalDestination } from './local.js';
import { ParquetWriter } from './parquet.js';
import { LakeReader } from './reader.js';
import type { BufferedMessage } from './rows.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-lake-reader-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T = Date.UTC(2025, 8, 9, 8, 0, 0);
function batch(offset: number, seq: number): BufferedMessage {
  return {
    offset, gatewayId: 'gw', seq, rejected: 0, skipped: null, bytes: 0, arrivedMs: 0,
    rows: [{ tsMs: T + seq, deviceId: 'dev', metric: 'm', value: seq }, { tsMs: T + seq, deviceId: 'dev', metric: 'm', value: seq }],
  };
}

describe('LakeReader', () => {
  it('reads an empty lake as no readings', async () => {
    const reader = await LakeReader.open({ dir: join(dir, 'empty') });
    try {
      assert.equal(await reader.readingsCount(), 0);
    } finally {
      await reader.close();
    }
  });

  it('`readings` keeps a batch a gateway resent into a later range once, as the database ledger does; `lake_rows` has both copies', async () => {
    const lake = new LocalDestination(join(dir, 'lake'));
    await lake.open();
    const writer = await ParquetWriter.open({ threads: 1, memoryLimit: '256MB', tempDirectory: join(dir, 'tmp'), rowGroupSize: 2_048, compressionLevel: 3 });
    try {
      // Batch 2 is at offsets 1 and 3, in two ranges; its two identical rows are both real readings.
      for (const [range, messages] of [[{ partition: 0, start: 0, end: 1 }, [batch(0, 1), batch(1, 2)]], [{ partition: 0, start: 2, end: 3 }, [batch(2, 3), batch(3, 2)]]] as const) {
        for (const f of (await writer.writeRange(range, [...messages], lake.stagingRoot)).files) await lake.put(f.key, f.path);
      }
    } finally {
      writer.close();
    }
    const reader = await LakeReader.open({ dir: join(dir, 'lake') });
    try {
      assert.equal(await reader.readingsCount(), 6);
      const raw = await reader.query('SELECT batch_seq, count(*) AS n FROM lake_rows GROUP BY 1 ORDER BY 1');
      assert.deepEqual(raw.map((r) => [Number(r.batch_seq), Number(r.n)]), [[1, 2], [2, 4], [3, 2]]);
      const seen = await reader.query(`SELECT count(*) AS n FROM readings WHERE device_id = $1 AND batch_seq = 2`, ['dev']);
      assert.equal(Number(seen[0]!.n), 2);
      await assert.rejects(reader.query('SELECT * FROM nowhere'), /FL_ERR|lake could not be read/);
    } finally {
      await reader.close();
    }
  });
});
