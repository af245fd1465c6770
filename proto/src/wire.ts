// The Kafka framing of the wire contract (DESIGN.md, "Wire formats"): a protobuf message compressed
// as one LZ4 frame, so `lz4 -d` opens it, with headers that let a consumer route and deduplicate
// without decompressing.
import lz4 from 'lz4';
import { unframe } from './lz4-frame.js';
import $protobuf from 'protobufjs/minimal.js';
import { fieldline } from '../gen/telemetry.js';
import { WireError } from './errors.js';
import { encodeColumnsBatch, expandColumns } from './columns.js';

export { WireError } from './errors.js';
export { COLUMNS_SCHEMA_VERSION } from './columns.js';

// 64-bit fields (timestamps in ms, batch seq) decode as plain numbers rather than Long objects;
// both stay far below 2^53.
$protobuf.util.Long = undefined as unknown as typeof $protobuf.util.Long;
$protobuf.configure();

export const v1 = fieldline.v1;

// The generated prototypes hold what a field absent from the bytes reads as. Their 64-bit defaults
// were made Long objects when proto/gen loaded, before the lines above ran, so a batch without a seq
// read as seq = Long(0): truthy, and no number. Plain 0, like every other numeric default.
for (const type of Object.values(v1)) {
  if (typeof type !== 'function') continue;
  const proto = type.prototype as unknown as Record<string, unknown>;
  for (const key of Object.keys(proto)) {
    const v = proto[key];
    if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) proto[key] = 0;
  }
}
export type Reading = fieldline.v1.Reading.$Properties;
export type ReadingBatch = fieldline.v1.ReadingBatch.$Properties;
export type Heartbeat = fieldline.v1.Heartbeat.$Properties;
export type QuarantinedReading = fieldline.v1.QuarantinedReading.$Properties;
export const SourceProtocol = fieldline.v1.SourceProtocol;
export type SourceProtocol = fieldline.v1.SourceProtocol;

/**
 * What this code writes in ReadingBatch.schema_version. The rule (telemetry.proto, on the field):
 * a version is major * 1000 + revision. A revision only adds optional fields under new numbers, which
 * an older reader skips, so a reader takes every revision of a major it knows; a new major may change
 * meaning, and a reader that does not know it must refuse the batch rather than misread it.
 * Major 1 shipped as plain 1 before the rule, so its revisions are written 1-999, and 0 (the field
 * unset, as by the first producers) reads as 1: hence schemaMajor's floor of 1. Adding a field is
 * SCHEMA_VERSION + 1; changing meaning is a new package (fieldline.v3) and 3000. Major 2 is the
 * batch with columns (COLUMNS_SCHEMA_VERSION), kept in fieldline.v1: see READABLE_MAJORS.
 */
export const SCHEMA_VERSION = 3;

/** The major of SCHEMA_VERSION, which readings-only batches are written in. */
export const SCHEMA_MAJOR = 1;

/**
 * The majors this code reads: 1, and 2 (COLUMNS_SCHEMA_VERSION), which is major 1 with
 * ReadingBatch.columns. Major 2 stays in package fieldline.v1 (docs/ARCHITECTURE.md, "Differences
 * from the contract"): nothing in major 1 changed meaning, but a major-1 reader skipping the columns
 * would see part of the batch, so it must refuse the batch, and refusing other majors is what it does.
 */
export const READABLE_MAJORS: readonly number[] = [1, 2];

/** The major a schema_version belongs to. */
export function schemaMajor(version: number): number {
  return Math.max(1, Math.floor(version / 1000));
}

/**
 * Throws FL_ERR_WIRE_SCHEMA_VERSION unless `version` (the field) is a revision of a major this code
 * reads. The field decides, not the `schema-version` header: the field is inside the frame, written
 * by the encoder that wrote the bytes it describes, while a header lives outside the value, where
 * anything that copies a message (a mirror, a replay, a hand-made producer) can drop or change it
 * without touching the bytes. The sink counts a header that disagrees (header-mismatch metric).
 */
export function checkSchemaVersion(version: number): void {
  if (!READABLE_MAJORS.includes(schemaMajor(version))) {
    throw new WireError('FL_ERR_WIRE_SCHEMA_VERSION', `${version} is major ${schemaMajor(version)}; this reader knows majors ${READABLE_MAJORS.join(' and ')} (versions 0-${READABLE_MAJORS.length * 1000 + 999})`);
  }
}

export const Header = {
  gatewayId: 'gateway-id',
  batchSeq: 'batch-seq',
  schemaVersion: 'schema-version',
  contentEncoding: 'content-encoding',
  readingCount: 'reading-count',
  reasonCode: 'reason-code',
  error: 'error',
  /** On iot.readings: `live` or `backlog` (Lane), the batch's `backlog` field as text, for routing without decoding. */
  lane: 'lane',
} as const;

/** Which of the gateway's two forwarding lanes a batch came through (ReadingBatch.backlog). */
export type Lane = 'live' | 'backlog';

export function laneOf(backlog: boolean | null | undefined): Lane {
  return backlog ? 'backlog' : 'live';
}

export type MessageHeaders = Record<string, string>;

export interface EncodedMessage {
  key: string;
  value: Buffer;
  headers: MessageHeaders;
}

export function lz4Frame(bytes: Uint8Array): Buffer {
  return lz4.encode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export function lz4Unframe(frame: Buffer): Buffer {
  return unframe(frame);
}

/** Counts readings the way every throughput figure does: one per (device, metric, time) value. */
export function countValues(readings: readonly Reading[]): number {
  let n = 0;
  for (const r of readings) n += r.metrics ? Object.keys(r.metrics).length : 0;
  return n;
}

export function encodeBatch(batch: ReadingBatch): EncodedMessage {
  const bytes = v1.ReadingBatch.encode(batch).finish();
  return {
    key: batch.gatewayId ?? '',
    value: lz4Frame(bytes),
    headers: {
      [Header.gatewayId]: batch.gatewayId ?? '',
      [Header.batchSeq]: String(batch.seq ?? 0),
      [Header.schemaVersion]: String(batch.schemaVersion ?? SCHEMA_VERSION),
      [Header.contentEncoding]: 'lz4',
      [Header.readingCount]: String(countValues(batch.readings ?? [])),
      [Header.lane]: laneOf(batch.backlog),
    },
  };
}

export interface BatchMeta {
  gatewayId: string;
  seq: number;
  createdMs: number;
  /** Readings (metric values) across all messages, for the reading-count header. */
  values: number;
  /** The batch drains a backlog (ReadingBatch.backlog, the `lane` header); absent: live. */
  backlog?: boolean;
}

/**
 * How a batch carries its readings: 'columns' (ReadingBatch.columns, major 2, what a gateway sends
 * by default) or 'readings' (one Reading message each, major 1, what sinks before columns read).
 */
export type BatchEncoding = 'columns' | 'readings';

/**
 * Builds a batch from Reading messages that are already encoded (the outbox stores them that way),
 * without a protobufjs object per reading. 'readings' (the default here) gives the same bytes as
 * encodeBatch; 'columns' moves what it can into columns (columns.ts).
 */
export function encodeBatchFromEncoded(meta: BatchMeta, readings: readonly Uint8Array[], encoding: BatchEncoding = 'readings'): EncodedMessage {
  // The columns writer takes non-negative numbers only; a batch id outside them (never a real one) goes as readings.
  if (encoding === 'columns' && meta.seq >= 0 && meta.createdMs >= 0) {
    const { bytes, schemaVersion } = encodeColumnsBatch(meta, readings, SCHEMA_VERSION);
    return { key: meta.gatewayId, value: lz4Frame(bytes), headers: batchHeaders(meta, schemaVersion) };
  }
  const w = $protobuf.Writer.create();
  // Field numbers and wire types from telemetry.proto, ReadingBatch: (n << 3) | type.
  if (meta.gatewayId) w.uint32((1 << 3) | 2).string(meta.gatewayId);
  if (meta.seq) w.uint32((2 << 3) | 0).uint64(meta.seq);
  if (meta.createdMs) w.uint32((3 << 3) | 0).int64(meta.createdMs);
  for (const r of readings) w.uint32((4 << 3) | 2).bytes(r);
  w.uint32((5 << 3) | 0).uint32(SCHEMA_VERSION);
  // proto3 leaves a false bool out, as the generated encoder does, so a live batch is byte for byte what it was.
  if (meta.backlog) w.uint32((6 << 3) | 0).bool(true);
  return { key: meta.gatewayId, value: lz4Frame(w.finish()), headers: batchHeaders(meta, SCHEMA_VERSION) };
}

function batchHeaders(meta: BatchMeta, schemaVersion: number): MessageHeaders {
  return {
    [Header.gatewayId]: meta.gatewayId,
    [Header.batchSeq]: String(meta.seq),
    [Header.schemaVersion]: String(schemaVersion),
    [Header.contentEncoding]: 'lz4',
    [Header.readingCount]: String(meta.values),
    [Header.lane]: laneOf(meta.backlog),
  };
}

/**
 * Throws WireError on anything that is not an LZ4-framed ReadingBatch. A batch's columns come back
 * as Reading objects in `readings` (each device's in the order sent), so readers see one shape.
 */
export function decodeBatch(value: Buffer): fieldline.v1.ReadingBatch {
  const batch = decodeFramed(value, v1.ReadingBatch);
  expandColumns(batch);
  return batch;
}

/**
 * Every topic's value is one LZ4 frame around one protobuf message; the two ways it can be wrong
 * get their own codes, so a DLQ header says which layer was broken.
 */
function decodeFramed<T>(value: Buffer, type: { name: string; decode(bytes: Uint8Array): T }): T {
  let bytes: Buffer;
  try {
    bytes = lz4Unframe(value);
  } catch (err) {
    throw new WireError('FL_ERR_WIRE_LZ4', (err as Error).message, { cause: err });
  }
  try {
    return type.decode(bytes);
  } catch (err) {
    throw new WireError('FL_ERR_WIRE_PROTOBUF', `${type.name}: ${(err as Error).message}`, { cause: err });
  }
}

export function encodeHeartbeat(hb: Heartbeat): EncodedMessage {
  return {
    key: hb.gatewayId ?? '',
    value: lz4Frame(v1.Heartbeat.encode(hb).finish()),
    headers: {
      [Header.gatewayId]: hb.gatewayId ?? '',
      [Header.schemaVersion]: String(SCHEMA_VERSION),
      [Header.contentEncoding]: 'lz4',
    },
  };
}

/** Throws WireError on anything that is not an LZ4-framed Heartbeat. */
export function decodeHeartbeat(value: Buffer): fieldline.v1.Heartbeat {
  return decodeFramed(value, v1.Heartbeat);
}

/** One refused reading for `iot.quarantine`: same LZ4 framing, key gateway_id, the reason in a header. */
export function encodeQuarantined(q: QuarantinedReading): EncodedMessage {
  return {
    key: q.gatewayId ?? '',
    value: lz4Frame(v1.QuarantinedReading.encode(q).finish()),
    headers: {
      [Header.gatewayId]: q.gatewayId ?? '',
      [Header.schemaVersion]: String(SCHEMA_VERSION),
      [Header.contentEncoding]: 'lz4',
      [Header.reasonCode]: q.reasonCode ?? '',
    },
  };
}

/** Throws WireError on anything that is not an LZ4-framed QuarantinedReading. */
export function decodeQuarantined(value: Buffer): fieldline.v1.QuarantinedReading {
  return decodeFramed(value, v1.QuarantinedReading);
}
