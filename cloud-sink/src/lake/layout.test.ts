import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileKey, hourFolder, hourOf, manifestKey, parseFileKey, parseManifest, rangeName } from './layout.js';

describe('lake layout', () => {
  it('names a file after its partition and offset range, in the folder of its UTC date and hour', () => {
    const hour = hourOf(Date.UTC(2025, 0, 2, 0, 30));
    assert.equal(fileKey({ partition: 3, start: 1200, end: 1799 }, hour), 'readings/date=2025-01-02/hour=00/part-p003-o00000000000000001200-00000000000000001799.parquet');
    assert.equal(manifestKey(3, 1200), '_manifests/readings/p003/o00000000000000001200.json');
  });

  it('pads offsets so that names sort as the offsets do', () => {
    const names = [100, 9, 10, 99_999_999_999].map((start) => rangeName({ partition: 0, start, end: start + 1 }));
    assert.deepEqual([...names].sort(), [9, 10, 100, 99_999_999_999].map((start) => rangeName({ partition: 0, start, end: start + 1 })));
  });

  it('puts times before 1970 and after 9999 in their own hours', () => {
    assert.equal(hourFolder(hourOf(-1)), 'date=1969-12-31/hour=23');
    assert.equal(hourFolder(hourOf(Date.UTC(10_000, 0, 1, 5))), 'date=+010000-01-01/hour=05');
  });

  it('parses the keys it makes and nothing else', () => {
    const key = fileKey({ partition: 12, start: 5, end: 7 }, hourOf(Date.UTC(2024, 1, 29, 23)));
    assert.deepEqual(parseFileKey(key), { date: '2024-02-29', hour: '23', partition: 12, start: 5, end: 7 });
    assert.equal(parseFileKey(`${key}.tmp`), null);
    assert.equal(parseFileKey('_staging/x/part-p000-o1-2.parquet'), null);
  });

  it('accepts a manifest it wrote and refuses anything else', () => {
    const m = { version: 1, topic: 't', partition: 1, start: 10, end: 19, rows: 5, files: [{ key: 'k', rows: 5 }], writtenAt: '', writer: '' };
    assert.deepEqual(parseManifest(Buffer.from(JSON.stringify(m)), 'm'), m);
    assert.throws(() => parseManifest(Buffer.from('{"version":1'), 'm1'), /m1 is not JSON/);
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...m, end: 9 })), 'm2'), /m2 is not a version 1 range manifest/);
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...m, files: [{ key: 1 }] })), 'm3'), /m3/);
  });
});
