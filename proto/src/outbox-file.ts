// The backlog file a field tech carries on a USB stick from a gateway with no uplink to the cloud
// (`fieldline-gateway outbox export` writes it, `fieldline-cloud outbox import` reads it). Each
// record is one Kafka message exactly as the forwarder would produce it (key, headers, LZ4-framed
// ReadingBatch), so an import is a produce of the same bytes and the sink's ingested_batches ledger
// makes it exactly once. Layout (integers big-endian; docs/ARCHITECTURE.md has the picture):
//
//   "FLOUTBOX"  u16 version  u32 n  n bytes of JSON header
//   per batch:  u32 length  body  u32 CRC-32(body)
//               body = u64 seq  u64 created_ms  u32 readings  u16+key  u16 count (u16+name u16+value)*  u32+value
//   "FLSHA256"  32 bytes: SHA-256 of every byte before "FLSHA256"
//
// The CRC names the damaged record; the SHA-256 trailer catches the rest (a damaged header or
// length, records missing at the end). A file is written beside its target and renamed into place
// after an fsync, so a stick pulled mid-copy leaves a `.partial` file, never a short one under the name.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { WireError } from './errors.js';
import type { EncodedMessage } from './wire.js';

export const OUTBOX_FILE_MAGIC = Buffer.from('FLOUTBOX', 'latin1');
export const OUTBOX_FILE_TRAILER = Buffer.from('FLSHA256', 'latin1');
export const OUTBOX_FILE_VERSION = 1;
/** No record is larger: a length above it is damage, not data (a batch is at most a few MB). */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;

/** What the file says about itself; `batches` and `readings` are checked against its records. */
export interface OutboxFileHeader {
  gatewayId: string;
  /** When the export was written (epoch ms). */
  createdMs: number;
  batches: number;
  /** Readings (metric values) across all batches. */
  readings: number;
  /** Lowest and highest batch seq in the file; null when it holds none. */
  firstSeq: number | null;
  lastSeq: number | null;
}

/** One batch: the Kafka message the forwarder would produce, and what it holds. */
export interface OutboxFileRecord {
  seq: number;
  createdMs: number;
  readings: number;
  message: EncodedMessage;
}

/**
 * Writes a file at `path` atomically: records go to `<path>.partial`, and finish() fsyncs it,
 * appends the trailer and renames it over `path`. abort() removes the partial file.
 */
export class OutboxFileWriter {
  private readonly tmp: string;
  private fd: number;
  private readonly hash: Hash = createHash('sha256');
  private written = 0;
  private bytes = 0;

  constructor(readonly path: string, private readonly header: OutboxFileHeader) {
    this.tmp = join(dirname(path), `.${basename(path)}.partial`);
    this.fd = openSync(this.tmp, 'w', 0o600);
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const head = Buffer.alloc(OUTBOX_FILE_MAGIC.length + 6);
    OUTBOX_FILE_MAGIC.copy(head, 0);
    head.writeUInt16BE(OUTBOX_FILE_VERSION, 8);
    head.writeUInt32BE(json.length, 10);
    this.put(head, true);
    this.put(json, true);
  }

  write(record: OutboxFileRecord): void {
    if (this.written === this.header.batches) throw new Error(`the header announces ${this.header.batches} batches; no room for seq ${record.seq}`);
    const body = encodeRecord(record);
    const frame = Buffer.alloc(4);
    frame.writeUInt32BE(body.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    this.put(frame, true);
    this.put(body, true);
    this.put(crc, true);
    this.written++;
  }

  /** Trailer, fsync, rename, fsync of the directory; returns the file's size. */
  finish(): number {
    if (this.written !== this.header.batches) throw new Error(`the header announces ${this.header.batches} batches; ${this.written} were written`);
    this.put(OUTBOX_FILE_TRAILER, false);
    this.put(this.hash.digest(), false);
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return this.bytes;
  }

  abort(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    rmSync(this.tmp, { force: true });
  }

  private put(buf: Buffer, hashed: boolean): void {
    if (hashed) this.hash.update(buf);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.bytes += buf.length;
  }
}

function encodeRecord(r: OutboxFileRecord): Buffer {
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(20);
  fixed.writeBigUInt64BE(BigInt(r.seq), 0);
  fixed.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(r.createdMs))), 8);
  fixed.writeUInt32BE(r.readings, 16);
  parts.push(fixed, short(r.message.key));
  const headers = Object.entries(r.message.headers);
  const count = Buffer.alloc(2);
  count.writeUInt16BE(headers.length);
  parts.push(count);
  for (const [name, value] of headers) parts.push(short(name), short(value));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(r.message.value.length);
  parts.push(len, r.message.value);
  return Buffer.concat(parts);
}

function short(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length > 0xffff) throw new Error(`${JSON.stringify(text.slice(0, 40))}…: longer than 65535 bytes`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A record body, read field by field; any overrun means the record is malformed. */
class BodyReader {
  private at = 0;
  constructor(private readonly buf: Buffer, private readonly where: string) {}
  u16(): number {
    this.need(2);
    return this.buf.readUInt16BE((this.at += 2) - 2);
  }
  u32(): number {
    this.need(4);
    return this.buf.readUInt32BE((this.at += 4) - 4);
  }
  u64(): number {
    this.need(8);
    return Number(this.buf.readBigUInt64BE((this.at += 8) - 8));
  }
  bytes(n: number): Buffer {
    this.need(n);
    return this.buf.subarray(this.at, (this.at += n));
  }
  text(): string {
    return this.bytes(this.u16()).toString('utf8');
  }
  end(): void {
    if (this.at !== this.buf.length) throw new WireError('FL_ERR_WIRE_FILE_HEADER', `${this.where}: ${this.buf.length - this.at} bytes left over after the value`);
  }
  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new WireError('FL_ERR_WIRE_FILE_HEADER', `${this.where}: its fields run past its length`);
  }
}

function decodeRecord(body: Buffer, where: string): OutboxFileRecord {
  const r = new BodyReader(body, where);
  const seq = r.u64();
  const createdMs = r.u64();
  const readings = r.u32();
  const key = r.text();
  const headers: Record<string, string> = {};
  for (let n = r.u16(); n > 0; n--) {
    const name = r.text();
    headers[name] = r.text();
  }
  const value = Buffer.from(r.bytes(r.u32()));
  r.end();
  return { seq, createdMs, readings, message: { key, value, headers } };
}

export interface OutboxFileSummary extends OutboxFileHeader {
  /** The file's size. */
  bytes: number;
}

/**
 * Reads and checks the whole file: magic, version, header, each record's CRC, the SHA-256 trailer,
 * and that the header's counts match the records. `visit` sees each record as it is read, so a
 * caller that must not act on a damaged file verifies first (visit omitted) and reads again.
 * Throws WireError (FL_ERR_WIRE_FILE_*) naming what is wrong and where.
 */
export function readOutboxFile(path: string, visit?: (record: OutboxFileRecord, index: number) => void): OutboxFileSummary {
  const records = outboxFileRecords(path);
  for (let i = 0; ; i++) {
    const next = records.next();
    if (next.done) return next.value;
    visit?.(next.value, i);
  }
}

/**
 * The records one at a time, each checked as it is read; the generator's return value is the
 * summary, reached only once the trailer and the header's counts have been checked too. A caller
 * that awaits between records (an import waiting on Kafka) reads the file without holding it in memory.
 */
export function* outboxFileRecords(path: string): Generator<OutboxFileRecord, OutboxFileSummary, undefined> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const hash = createHash('sha256');
    let pos = 0;
    const take = (n: number, what: () => string, hashed = true): Buffer => {
      if (pos + n > size) throw new WireError('FL_ERR_WIRE_FILE_TRUNCATED', `${path} is ${size} bytes and ends inside ${what()}`);
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, buf, got, n - got, pos + got);
        if (r === 0) throw new WireError('FL_ERR_WIRE_FILE_TRUNCATED', `${path} ends inside ${what()}`);
        got += r;
      }
      pos += n;
      if (hashed) hash.update(buf);
      return buf;
    };

    const magic = take(Math.min(OUTBOX_FILE_MAGIC.length, size), () => 'the magic');
    if (!magic.equals(OUTBOX_FILE_MAGIC)) {
      throw new WireError('FL_ERR_WIRE_FILE_NOT_EXPORT', `${path} starts with ${JSON.stringify(magic.subarray(0, 8).toString('latin1'))}; \`fieldline-gateway outbox export\` writes files that start with FLOUTBOX`);
    }
    const version = take(2, () => 'the version').readUInt16BE(0);
    if (version !== OUTBOX_FILE_VERSION) {
      throw new WireError('FL_ERR_WIRE_FILE_VERSION', `${path} is format version ${version}; this program reads version ${OUTBOX_FILE_VERSION} (upgrade the cloud to import it)`);
    }
    const headerLen = take(4, () => 'the header length').readUInt32BE(0);
    if (headerLen > MAX_HEADER_BYTES) throw new WireError('FL_ERR_WIRE_FILE_HEADER', `the header claims ${headerLen} bytes (at most ${MAX_HEADER_BYTES})`);
    const header = parseHeader(take(headerLen, () => 'the header'));

    let readings = 0;
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    for (let i = 0; i < header.batches; i++) {
      const where = () => `record ${i + 1} of ${header.batches}`;
      const len = take(4, () => `the length of ${where()}`).readUInt32BE(0);
      if (len > MAX_RECORD_BYTES) throw new WireError('FL_ERR_WIRE_FILE_CHECKSUM', `${where()} (at byte ${pos - 4}) claims ${len} bytes: its length field is damaged`);
      const body = take(len, () => `${where()} (${len} bytes from byte ${pos})`);
      const crc = take(4, () => `the CRC of ${where()}`).readUInt32BE(0);
      if (crc32(body) !== crc) {
        throw new WireError('FL_ERR_WIRE_FILE_CHECKSUM', `${where()} (at byte ${pos - len - 8}): CRC-32 ${hex8(crc32(body))}, recorded ${hex8(crc)}`);
      }
      const record = decodeRecord(body, where());
      if (record.message.key !== header.gatewayId || record.message.headers['batch-seq'] !== String(record.seq)) {
        throw new WireError('FL_ERR_WIRE_FILE_HEADER', `${where()}: key ${JSON.stringify(record.message.key)}, batch-seq ${JSON.stringify(record.message.headers['batch-seq'])}; the file is of gateway ${header.gatewayId} and the record of seq ${record.seq}`);
      }
      readings += record.readings;
      firstSeq = firstSeq === null ? record.seq : Math.min(firstSeq, record.seq);
      lastSeq = lastSeq === null ? record.seq : Math.max(lastSeq, record.seq);
      yield record;
    }

    const digest = hash.digest();
    const tag = take(OUTBOX_FILE_TRAILER.length, () => 'the SHA-256 trailer', false);
    if (!tag.equals(OUTBOX_FILE_TRAILER)) {
      throw new WireError('FL_ERR_WIRE_FILE_HEADER', `after the ${header.batches} records the header announces, byte ${pos - tag.length} holds no SHA-256 trailer (the header's batch count is wrong, or records were appended)`);
    }
    const recorded = take(32, () => 'the SHA-256 trailer', false);
    if (!recorded.equals(digest)) {
      throw new WireError('FL_ERR_WIRE_FILE_CHECKSUM', `the SHA-256 of the file's content (${digest.toString('hex').slice(0, 16)}…) is not the one in its trailer (${recorded.toString('hex').slice(0, 16)}…): the header is damaged`);
    }
    if (pos !== size) throw new WireError('FL_ERR_WIRE_FILE_HEADER', `${size - pos} bytes follow the trailer`);
    if (readings !== header.readings || firstSeq !== header.firstSeq || lastSeq !== header.lastSeq) {
      throw new WireError('FL_ERR_WIRE_FILE_HEADER', `the header says ${header.readings} readings, seqs ${header.firstSeq}-${header.lastSeq}; the records hold ${readings}, seqs ${firstSeq}-${lastSeq}`);
    }
    return { ...header, bytes: size };
  } finally {
    closeSync(fd);
  }
}

function parseHeader(buf: Buffer): OutboxFileHeader {
  let h: unknown;
  try {
    h = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new WireError('FL_ERR_WIRE_FILE_HEADER', `the header is not JSON: ${(err as Error).message}`);
  }
  const o = (typeof h === 'object' && h !== null ? h : {}) as Record<string, unknown>;
  const count = (k: string) => Number.isSafeInteger(o[k]) && (o[k] as number) >= 0;
  const seq = (k: string) => o[k] === null || count(k);
  const bad = [
    typeof o.gatewayId === 'string' && o.gatewayId ? null : 'gatewayId (a non-empty string)',
    count('createdMs') ? null : 'createdMs (epoch ms)',
    count('batches') ? null : 'batches (a count)',
    count('readings') ? null : 'readings (a count)',
    seq('firstSeq') ? null : 'firstSeq (a seq or null)',
    seq('lastSeq') ? null : 'lastSeq (a seq or null)',
  ].filter((x) => x !== null);
  if (bad.length) throw new WireError('FL_ERR_WIRE_FILE_HEADER', `expected ${bad.join(', ')} in ${buf.toString('utf8').slice(0, 200)}`);
  return {
    gatewayId: o.gatewayId as string, createdMs: o.createdMs as number, batches: o.batches as number,
    readings: o.readings as number, firstSeq: o.firstSeq as number | null, lastSeq: o.lastSeq as number | null,
  };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
