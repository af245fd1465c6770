import type { ErrorCode } from '../errors.js';
import type { Reading, SourceProtocol } from '../../../proto/src/wire.js';
import type { MessageKey } from '../outbox/outbox.js';
import type { ClockStamp } from '../clock/clock.js';
import type { UntrustedStamp } from '../clock/retime.js';

/** What an adapter hands the pipeline: one device message as it arrived. */
export interface Envelope {
  deviceId: string;
  source: SourceProtocol;
  /**
   * How raw is encoded. 'reading' means the adapter decoded it itself (Modbus registers): `reading`
   * is already set and `raw` holds the bytes it came from.
   */
  format: 'json' | 'protobuf' | 'cbor' | 'reading';
  raw: Buffer;
  receivedMs: number;
  /** MQTT topic or CoAP path, kept for the quarantine record. */
  topic: string;
  /** Set by an adapter that already knows the message is unacceptable (bad topic, oversized). */
  preRejection?: Rejection;
  /** Filled by the decode step. */
  reading?: Reading;
  /** MQTT QoS 1 (ingest/mqtt/redelivery.ts), so a resend of a committed message is recognised. */
  redelivery?: MessageKey;
  /** The gateway's clock at arrival (clock step); receivedMs is then on that clock. */
  clock?: ClockStamp;
  /** Set when the gateway stamped the reading on an untrusted clock: kept with it in the outbox. */
  untrusted?: UntrustedStamp;
}

export interface Rejection {
  code: ErrorCode;
  detail: string;
  /** For throttling: when the sender may try again (CoAP Max-Age on 4.29). */
  retryAfterMs?: number;
}

export type StepResult = Rejection | undefined;

/**
 * One named stage. A step either lets the envelope through (returns undefined, possibly after
 * filling or normalising it) or refuses it with a catalogued reason.
 */
export interface Step {
  readonly name: string;
  /**
   * How refusals of this step count in the loss counters: 'quarantined' (the default; the payload
   * is kept with its reason) or 'rateLimited' (dropped and counted, nothing wrong with the data).
   */
  readonly loss?: 'quarantined' | 'rateLimited';
  run(env: Envelope): StepResult;
}

export type Outcome =
  | { ok: true; values: number }
  | { ok: false; stage: string; rejection: Rejection };
