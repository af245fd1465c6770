// A leased batch as the Kafka message on iot.readings (DESIGN.md "Wire formats"). One function for
// the forwarder and `outbox export`, so a batch carried on a stick is byte for byte what the
// forwarder sends, and both meet the sink's ledger under the same (gateway_id, seq).
import { encodeBatchFromEncoded, type EncodedMessage } from '../../../proto/src/wire.js';
import type { LeasedBatch } from '../outbox/outbox.js';

export function encodeLeasedBatch(gatewayId: string, batch: LeasedBatch): EncodedMessage {
  return encodeBatchFromEncoded({ gatewayId, seq: batch.seq, createdMs: batch.createdMs, values: batch.values, backlog: batch.backlog === true }, batch.readings);
}
