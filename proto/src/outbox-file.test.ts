import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { OutboxFileWriter, readOutboxFile, type OutboxFileRecord } from './outbox-file.js';
import { decodeBatch, encodeBatch, WireError } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'outbox-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function record(seq: number, devices = 2): OutboxFileRecord {
  const readings = Array.from({ length: devices }, (_, i) => ({ deviceId: `d${i}`, tsMs: 1_700_000_000_000 + seq, metrics: { t: seq + i / 10, h: 50 } }));
  return { seq, createdMs: 1_700_000_000_000 + seq, readings: devices * 2, message: encodeBatch({ gatewayId: 'gw-1', seq, createdMs: 1_700_000_000_000 + seq, readings }) };
}

function write(name: string, records: OutboxFileRecord[]): string {
  const path = join(dir, name);
  const w = new OutboxFileWriter(path, {
    gatewayId: 'gw-1', createdMs: 1_700_000_123_000, batches: records.length,
    readings: records.reduce((n, r) => n + r.readings, 0), firstSeq: records[0]?.seq ?? null, lastSeq: records.at(-1)?.seq ?? null,
  });
  for (const r of records) w.write(r);
  w.finish();
  return path;
}

function refusal(path: string): WireError {
  try {
    readOutboxFile(path);
  } catch (err) {
    assert.ok(err instanceof WireError, String(err));
    return err;
  }
  assert.fail(`${path} was accepted`);
}

describe('outbox export file', () => {
  it('round trip: every record comes back with its seq, key, headers and the same value bytes, and the summary matches', () => {
    const records = [record(7), record(8, 3), record(12)];
    const path = write('round.flbx', records);
    const seen: OutboxFileRecord[] = [];
    const s = readOutboxFile(path, (r) => seen.push(r));
    assert.deepEqual({ ...s, bytes: undefined }, { gatewayId: 'gw-1', createdMs: 1_700_000_123_000, batches: 3, readings: 14, firstSeq: 7, lastSeq: 12, bytes: undefined });
    assert.equal(s.bytes, readFileSync(path).length);
    assert.deepEqual(seen.map((r) => r.seq), [7, 8, 12]);
    for (const [i, r] of seen.entries()) {
      assert.deepEqual(r.message.headers, records[i]!.message.headers);
      assert.equal(r.message.key, 'gw-1');
      assert.ok(r.message.value.equals(records[i]!.message.value));
      assert.equal(Number(decodeBatch(r.message.value).seq), r.seq);
    }
  });

  it('an empty backlog is a valid file with no records', () => {
    const s = readOutboxFile(write('empty.flbx', []));
    assert.equal(s.batches, 0);
    assert.equal(s.firstSeq, null);
  });

  it('a file cut anywhere is refused as truncated, never read as a shorter whole', () => {
    const whole = readFileSync(write('cut.flbx', [record(1), record(2), record(3)]));
    for (const cut of [9, 13, 40, Math.floor(whole.length / 2), whole.length - 33, whole.length - 1]) {
      const path = join(dir, `cut-${cut}.flbx`);
      writeFileSync(path, whole.subarray(0, cut));
      const err = refusal(path);
      assert.equal(err.code, 'FL_ERR_WIRE_FILE_TRUNCATED', `cut at ${cut}: ${err.message}`);
      assert.match(err.message, /ends inside/);
    }
  });

  it('a damaged byte inside a record is refused with a checksum error naming that record', () => {
    const path = write('flip.flbx', [record(1), record(2), record(3)]);
    const bytes = readFileSync(path);
    // The last byte of record 3's value sits just before its CRC and the 40-byte trailer.
    bytes[bytes.length - 40 - 4 - 1]! ^= 0x01;
    writeFileSync(path, bytes);
    const err = refusal(path);
    assert.equal(err.code, 'FL_ERR_WIRE_FILE_CHECKSUM');
    assert.match(err.message, /record 3 of 3/);
  });

  it("a damaged header count or a changed header is refused (the SHA-256 trailer or the counts don't match)", () => {
    const path = write('head.flbx', [record(1), record(2)]);
    const text = readFileSync(path, 'latin1');
    writeFileSync(path, Buffer.from(text.replace('"readings":8', '"readings":9'), 'latin1'));
    assert.equal(refusal(path).code, 'FL_ERR_WIRE_FILE_CHECKSUM');
    writeFileSync(path, Buffer.from(text.replace('"batches":2', '"batches":1'), 'latin1'));
    assert.equal(refusal(path).code, 'FL_ERR_WIRE_FILE_HEADER');
  });

  it('a file that is not an export, or of another version, is refused with its own code', () => {
    const other = join(dir, 'notes.txt');
    writeFileSync(other, 'shopping list: cable ties, ferrules');
    const err = refusal(other);
    assert.equal(err.code, 'FL_ERR_WIRE_FILE_NOT_EXPORT');
    assert.match(err.message, /FLOUTBOX/);
    const path = write('v2.flbx', [record(1)]);
    const bytes = readFileSync(path);
    bytes.writeUInt16BE(2, 8);
    writeFileSync(path, bytes);
    const v = refusal(path);
    assert.equal(v.code, 'FL_ERR_WIRE_FILE_VERSION');
    assert.match(v.message, /version 2; this program reads version 1/);
  });

  it('an aborted write leaves nothing under the name, and a finished one leaves no partial file', () => {
    const path = join(dir, 'aborted.flbx');
    const w = new OutboxFileWriter(path, { gatewayId: 'gw-1', createdMs: 1, batches: 2, readings: 8, firstSeq: 1, lastSeq: 2 });
    w.write(record(1));
    assert.equal(existsSync(path), false, 'nothing under the name before finish()');
    assert.throws(() => w.finish(), /announces 2 batches; 1 were written/);
    w.abort();
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('partial')), []);
  });
});
