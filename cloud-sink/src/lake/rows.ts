// A Kafka message as the lake holds it until its range is written: the rows the database would
// store for it. It goes through the store consumer's own admission (consume/sanity.ts admitBatch:
// decoding, schema version, identity, the sanity limits; a batch refused there is dead-lettered
// whole by the store consumer and has no rows here) and then the store's own row making
// (store.ts checkBatchIdentity and flatten), so the lake and `readings` agree row for row.
import type Kafka from 'node-rdkafka';
import { admitBatch, type SanityLimits } from '../consume/sanity.js';
import { checkBatchIdentity, flatten, type Flattened } from '../store/store.js';

export type LakeRow = Flattened['rows'][number];

export interface BufferedMessage {
  offset: number;
  gatewayId: string;
  seq: number;
  rows: LakeRow[];
  /** Values no row can hold (the store counts them as rejected). */
  rejected: number;
  /** Why the message has no rows at all (an FL_ERR_ code): the store consumer dead-letters these. */
  skipped: string | null;
  /** A rough in-memory size, for lake.maxBytesPerFile. */
  bytes: number;
  /** Date.now() when it entered the buffer: the age roll counts from the oldest. */
  arrivedMs: number;
}

/** Per row: the object, its two strings' headers and the number. */
const ROW_OVERHEAD = 96;

/**
 * Never throws: a message the store consumer would dead-letter is kept as a skipped one, with the
 * code it would carry in the DLQ. `nowMs` is the clock of the future-time check, as the store
 * consumer's is: a replay later may admit a batch that was ahead of the clock before, never the
 * other way round.
 */
export function toBuffered(msg: Kafka.Message, limits: SanityLimits, nowMs: number): BufferedMessage {
  const empty = (why: string): BufferedMessage => ({
    offset: msg.offset, gatewayId: '', seq: 0, rows: [], rejected: 0, skipped: why, bytes: 64, arrivedMs: nowMs,
  });
  let batch;
  try {
    batch = admitBatch(msg.value, limits, nowMs).batch;
    checkBatchIdentity(batch);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return empty(typeof code === 'string' && code.startsWith('FL_ERR_') ? code : 'FL_ERR_WIRE_DECODE');
  }
  const f = flatten(batch);
  let bytes = 64;
  for (const r of f.rows) bytes += ROW_OVERHEAD + 2 * (r.deviceId.length + r.metric.length);
  return { offset: msg.offset, gatewayId: batch.gatewayId, seq: batch.seq, rows: f.rows, rejected: f.rejected, skipped: null, bytes, arrivedMs: nowMs };
}
