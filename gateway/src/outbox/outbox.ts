// The contract every outbox implementation meets; outbox.behaviour.ts is its test suite.
import type { Heartbeat, QuarantinedReading, Reading } from '../../../proto/src/wire.js';
import type { UntrustedStamp } from '../clock/retime.js';
import type { ErrorCode } from '../errors.js';

/** A run of readings handed to the forwarder under one batch sequence number. */
export interface LeasedBatch {
  seq: number;
  createdMs: number;
  /** Readings (metric values) in the batch. */
  values: number;
  /** Each element is one encoded `Reading` message, in append order. */
  readings: Uint8Array[];
  /**
   * The batch drains a backlog: its first reading had waited longer than the live window when it
   * was leased (ReadingBatch.backlog). Fixed at lease time, so a resend carries the same flag.
   * The outbox always sets it; absent (a batch made by hand) reads as live.
   */
  backlog?: boolean;
}

/**
 * Which readings a lease takes. Both lanes take contiguous id ranges in id order, so each keeps
 * per-device order within itself; neither ever takes a row the other holds.
 *
 * - `live`: the oldest unleased readings committed within `liveWindowMs` of now, ahead of any older
 *   ones: what a device said in the last few seconds goes out first while a backlog drains.
 * - `backlog`: the oldest unleased readings, if the oldest is older than the window; it stops
 *   before the first live reading. A live reading that waited past the window without being leased
 *   (the live lane fell behind) is backlog from then on.
 * - none: the oldest unleased readings whatever their age (one lane, as before lanes existed: with
 *   forward.liveFirst off, and for `outbox export`); flagged backlog by the same rule.
 */
export interface LeaseOptions {
  lane?: 'live' | 'backlog';
  /** How old (by commit time) a reading may be and still be live. Default DEFAULT_LIVE_WINDOW_MS. */
  liveWindowMs?: number;
}

export const DEFAULT_LIVE_WINDOW_MS = 5_000;

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
  /** Resent device messages found already committed (ResendScreen), acknowledged without storing them again. */
  redeliveriesDropped: number;
  /** Set while appends are refused: the outbox is at its bound (refuse-new) or the disk is full. */
  full: OutboxFull | null;
  /** Set when the file found at start-up was corrupt and was moved aside. */
  recovery: OutboxRecovery | null;
}

/** How long the oldest waiting message has waited, in ms at `nowMs`; 0 when nothing waits. */
export function oldestAgeMs(stats: Pick<OutboxStats, 'oldestMs'>, nowMs = Date.now()): number {
  return stats.oldestMs === null ? 0 : nowMs - stats.oldestMs;
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
 * What an ingest attaches to a device message so that a resend of it can be told apart from a new
 * message. The outbox keeps key and digest with the message (sent-keys.ts) and only ever hands them
 * back or compares them for equality; what they are made of, and when a message counts as a resend,
 * belong to the ingest that makes them (MQTT: ingest/mqtt/redelivery.ts) and its ResendScreen.
 */
export interface MessageKey {
  /** Opaque to the outbox. */
  key: string;
  /** Opaque to the outbox; of the message's content, so a resend carries the same one. */
  digest: Uint8Array;
  /** The sender marked this send as a resend of an earlier one. Read by the screen only. */
  resend: boolean;
}

/** A key as the outbox file holds it, handed to a ResendScreen at open. */
export interface StoredKey {
  key: string;
  /** The digest in hex (the form the outbox keeps in memory, a third of a Buffer's size). */
  digest: string;
  /** Commit time of its message; null for keys kept by a version that did not record it. */
  receivedMs: number | null;
}

/** The outbox's memory of the keys committed so far, newest 100,000 (sent-keys.ts). */
export interface KeyLookup {
  /** Hex digest of the message last committed under `key`, if the key is still remembered. */
  lastDigest(key: string): string | undefined;
}

/**
 * Decides which keyed messages are resends of messages already committed. The outbox asks inside
 * each group-commit transaction, so recognising a resend and storing the rest of the group are one
 * atomic step; a resend is acknowledged to its sender without being stored again.
 */
export interface ResendScreen {
  /** Once at open, before any append: the newest keys in the file, waiting and delivered, oldest first. */
  load(stored: readonly StoredKey[]): void;
  /**
   * One group's keyed messages in append order; returns for each whether it is a resend. `known`
   * answers for what committed before this group. The group may still fail to commit, so nothing
   * learnt from it may be kept before committed().
   */
  screen(group: readonly MessageKey[], known: KeyLookup): boolean[];
  /** The group last screened committed, with these verdicts. */
  committed(group: readonly MessageKey[], resends: readonly boolean[]): void;
}

/**
 * The heartbeat slot: one heartbeat that could not be sent, the newest, kept durably so it outlives
 * a restart. Never a backlog: each keep replaces what was there.
 */
export interface HeartbeatSlot {
  /** Replaces any waiting heartbeat with this one. False: not stored (disk full), nothing changed. */
  keepHeartbeat(hb: Heartbeat): boolean;
  /** The heartbeat waiting, or null. */
  waitingHeartbeat(): Heartbeat | null;
  /** Empties the slot if what waits is stamped at or before tsMs; a newer one stays. Returns whether one went. */
  clearHeartbeat(upToTsMs: number): boolean;
}

export interface Outbox extends HeartbeatSlot {
  /**
   * Resolves once the readings are durably committed (group commit: concurrent calls share one
   * transaction). Only then may a device be acknowledged. Rejects when nothing was committed.
   * With `key` (the call then holds one device message), a message the outbox's ResendScreen
   * recognises as a resend resolves without storing anything. Resolves to whether the readings
   * were stored (false: a recognised resend).
   * With `stamp`, the gateway stamped the readings on a wall clock it did not trust: the stamp is
   * kept with them, and their time is corrected (or flagged) when they are leased (clock/retime.ts).
   */
  append(readings: Reading[], key?: MessageKey, stamp?: UntrustedStamp): Promise<boolean>;
  /** Same durability as append, for refused input kept for inspection and forwarding. */
  quarantine(record: QuarantinedReading): Promise<void>;
  /**
   * Batches leased earlier and never acked, oldest first. After a restart they are sent again with
   * the same seq and content, so the sink's ledger can drop the copy it already has.
   */
  unacked(): LeasedBatch[];
  /**
   * The seqs of the batches leased and not acked, oldest first: cheap, no readings. The forwarder
   * compares them with the batches it tracks, to pick up leases made by another process (`outbox export`).
   */
  leasedSeqs(): number[];
  /**
   * Takes unleased readings (the oldest, or by lane: LeaseOptions), up to maxValues values, under
   * the next seq; null when none.
   */
  lease(maxValues: number, opts?: LeaseOptions): LeasedBatch | null;
  /**
   * A lease is committed when lease() returns, but with synchronous=FULL not yet synced. A leased
   * batch must not leave the gateway before this resolves: a lease lost to a power cut would send
   * its readings again under another seq. Null when there is nothing to wait for.
   */
  durable(): Promise<void> | null;
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
