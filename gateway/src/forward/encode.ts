// A leased batch as the Kafka message on iot.readings (DESIGN.md "Wire formats"). One function for
// the forwarder and `outbox export`, so a batch carried on a stick is byte for byte what the
// forwarder sends, and both meet the sink's ledger under the same (gateway_id, seq).
import { encodeBatchFromEncoded, type BatchEncoding, type EncodedMessage } from '../../../proto/src/wire.js';
import type { LeasedBatch } from '../outbox/outbox.js';

/** forward.encoding's default, for callers without a config (benches, tools). */
export const DEFAULT_ENCODING: BatchEncoding = 'columns';

export function encodeLeasedBatch(gatewayId: string, batch: LeasedBatch, encoding: BatchEncoding = DEFAULT_ENCODING): EncodedMessage {
  return encodeBatchFromEncoded({ gatewayId, seq: batch.seq, createdMs: batch.createdMs, values: batch.values, backlog: batch.backlog === true }, batch.readings, encoding);
}
