// How a poll is cut into transactions (StoreConsumer, kafka.maxTransactionReadings): in order,
// every batch once, no transaction over the cap unless one batch alone is.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { IngestBatch } from '../store/store.js';
import { byReadings } from './store-consumer.js';

const batch = (seq: number, values: number): { batch: IngestBatch } => ({
  batch: { gatewayId: 'g', seq, createdMs: 0, readings: Array.from({ length: values }, (_, i) => ({ deviceId: 'd', tsMs: i, metrics: { m: i } })) },
});

it('cuts a poll into consecutive transactions of at most the cap, a bigger batch alone, none lost or reordered', () => {
  const items = [batch(1, 3), batch(2, 4), batch(3, 2), batch(4, 9), batch(5, 1), batch(6, 5)];
  const chunks = byReadings(items, 7);
  assert.deepEqual(chunks.map((c) => c.map((x) => x.batch.seq)), [[1, 2], [3], [4], [5, 6]]);
  assert.deepEqual(chunks.flat(), items);
  assert.deepEqual(byReadings(items, 1_000).length, 1);
  assert.deepEqual(byReadings([], 7), []);
});
