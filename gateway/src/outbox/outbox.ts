// The contract every outbox implementation meets; test/outbox/behaviour.ts is its test suite.
import type { QuarantinedReading, Reading } from '../../../proto/src/wire.js';

/** A run of readings handed to the forwarder under one batch sequence number. */
export interface LeasedBatch {
  seq: number;
  createdMs: number;
  /** Readings (metric values) in the batch. */
  values: number;
  /** Each element is one encoded `Reading` message, in append order. */
  readings: Uint8Array[];
}

export interface OutboxStats {
  /** Device messages waiting, leased or not. */
  depthMessages: number;
  /** Readings (metric values) waiting. */
  depthValues: number;
  /** Receive time of the oldest waiting message, or null when empty. */
  oldestMs: number | null;
  leasedBatches: number;
  nextSeq: number;
  /** Quarantined records not yet delivered to the quarantine topic. */
  quarantinePending: number;
}

export interface Outbox {
  /**
   * Resolves once the readings are durably committed (group commit: concurrent calls share one
   * transaction). Only then may a device be acknowledged. Rejects when nothing was committed.
   */
  append(readings: Reading[]): Promise<void>;
  /** Same durability as append, for refused input kept for inspection and forwarding. */
  quarantine(record: QuarantinedReading): Promise<void>;
  /**
   * Batches leased earlier and never acked, oldest first. After a restart they are sent again with
   * the same seq and content, so the sink's ledger can drop the copy it already has.
   */
  unacked(): LeasedBatch[];
  /** Takes the oldest unleased readings, up to maxValues values, under the next seq; null when none. */
  lease(maxValues: number): LeasedBatch | null;
  /** The batch is in the cloud: its readings leave the outbox. */
  ack(seq: number): void;
  recentQuarantine(limit: number): QuarantineRow[];
  /** Quarantined records not yet forwarded, oldest first; they stay pending until marked. */
  pendingQuarantine(limit: number): QuarantineRow[];
  /** These records reached the quarantine topic; they stay for inspection but are not sent again. */
  markQuarantineForwarded(ids: readonly number[]): void;
  stats(): OutboxStats;
  close(): void;
}

export interface QuarantineRow {
  id: number;
  tsMs: number;
  deviceId: string;
  source: number;
  reasonCode: string;
  reason: string;
  topic: string;
  raw: Buffer;
}
