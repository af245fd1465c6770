// The contract every outbox implementation meets; outbox.behaviour.ts is its test suite.
import type { QuarantinedReading, Reading } from '../../../proto/src/wire.js';
import type { ErrorCode } from '../errors.js';

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
  /** Stored payload bytes of the waiting messages (the figure maxBytes bounds). */
  depthBytes: number;
  /** Readings (values) evicted at the bound since start. */
  evictedValues: number;
  /** Resent device messages found already committed (Redelivery), acknowledged without storing them again. */
  redeliveriesDropped: number;
  /** Set while appends are refused: the outbox is at its bound (refuse-new) or the disk is full. */
  full: OutboxFull | null;
  /** Set when the file found at start-up was corrupt and was moved aside. */
  recovery: OutboxRecovery | null;
}

export interface OutboxFull {
  code: Extract<ErrorCode, 'FL_ERR_OUTBOX_FULL' | 'FL_ERR_OUTBOX_DISK_FULL'>;
  reason: string;
  sinceMs: number;
}

export interface OutboxRecovery {
  atMs: number;
  reason: string;
  /** Where the damaged file went, for a post-mortem. */
  movedTo: string;
}

/** The size bound every implementation honours, and what happens at it. */
export interface OutboxBounds {
  /** Most device messages kept; 0: no bound. */
  maxMessages?: number;
  /** Most stored payload bytes kept; 0: no bound. */
  maxBytes?: number;
  onFull?: 'drop-oldest' | 'refuse-new';
  /** Told of every eviction: readings (values) evicted per device. */
  onEvict?: (valuesByDevice: Map<string, number>) => void;
}

/** An append refused because the outbox may not grow: nothing was committed, so nothing may be acknowledged. */
export class OutboxFullError extends Error {
  constructor(readonly code: OutboxFull['code'], detail: string) {
    super(detail);
    this.name = 'OutboxFullError';
  }
}

/**
 * Who sent a message and under which id, so a resend of a message already committed is not stored
 * twice. A QoS 1 sender whose PUBACK was lost (the gateway crashed after the commit, or the
 * connection dropped) sends the message again with the same packet id and DUP=1 [MQTT-4.4.0-1].
 * Some clients (MQTT.js 5) leave DUP at 0 on a resend; for them only the crash case is covered: after
 * a restart, a sender's first messages that match one committed in the last seconds before it by
 * key and digest are taken as resends, until the sender sends anything else.
 */
export interface Redelivery {
  /** `<sender>\u0000<message id>`, e.g. MQTT client id and packet id. */
  key: string;
  /** Digest of what was sent (topic and payload): a resend carries the same bytes. */
  digest: Uint8Array;
  /** The sender marked it a resend (MQTT DUP=1). A first send is stored unless it matches a message committed just before a restart. */
  dup: boolean;
}

export interface Outbox {
  /**
   * Resolves once the readings are durably committed (group commit: concurrent calls share one
   * transaction). Only then may a device be acknowledged. Rejects when nothing was committed.
   * With `redelivery` (the call then holds one device message), a resend of a message already
   * committed (see Redelivery) resolves without storing anything. Resolves to whether the readings
   * were stored (false: a recognised resend).
   */
  append(readings: Reading[], redelivery?: Redelivery): Promise<boolean>;
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
