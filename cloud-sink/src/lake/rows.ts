// A Kafka message as the lake holds it until its range is written: the rows the database would
// store for it, made by the store's own checks (store.ts checkBatchIdentity and flatten), so the
// lake and `readings` agree row for row.
import type Kafka from 'node-rdkafka';
import { decodeBatch } from '../../../proto/src/wire.js';
import { checkBatchIdentity, flatten, type Flattened } from '../store/store.js';

export type LakeRow = Flattened['rows'][number];

export interface BufferedMessage {
  offset: number;
  gatewayId: string;
  seq: number;
  rows: LakeRow[];
  /** Values no row can hold (the store counts them as rejected). */
  rejected: number;
  /** Why the message has no rows at all: the store consumer dead-letters these. */
  skipped: string | null;
  /** A rough in-memory size, for lake.maxBytesPerFile. */
  bytes: number;
  /** Date.now() when it entered the buffer: the age roll counts from the oldest. */
  arrivedMs: number;
}

/** Per row: the object, its two strings' headers and the number. */
const ROW_OVERHEAD = 96;

/** Never throws: a message that is not a batch the store would take is kept as a skipped one. */
export function toBuffered(msg: Kafka.Message, now: number): BufferedMessage {
  const empty = (why: string): BufferedMessage => ({
    offset: msg.offset, gatewayId: '', seq: 0, rows: [], rejected: 0, skipped: why, bytes: 64, arrivedMs: now,
  });
  if (!msg.value) return empty('FL_ERR_WIRE_EMPTY');
  let batch;
  try {
    const b = decodeBatch(msg.value);
    // The same refusal as the store consumer's, which dead-letters such a batch.
    if (!b.gatewayId || !b.seq) return empty('FL_ERR_WIRE_BATCH_ID');
    batch = { gatewayId: b.gatewayId, seq: b.seq, createdMs: b.createdMs, readings: b.readings };
    checkBatchIdentity(batch);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return empty(typeof code === 'string' ? code : 'FL_ERR_WIRE_DECODE');
  }
  const f = flatten(batch);
  let bytes = 64;
  for (const r of f.rows) bytes += ROW_OVERHEAD + 2 * (r.deviceId.length + r.metric.length);
  return { offset: msg.offset, gatewayId: batch.gatewayId, seq: batch.seq, rows: f.rows, rejected: f.rejected, skipped: null, bytes, arrivedMs: now };
}
