// The telemetry payload the MQTT and CoAP sensors send (DESIGN.md "Wire formats": `{"ts", "metrics"}`
// as JSON or CBOR), and the message-level faults of fault mode. Each message is of exactly one kind,
// so a summary's per-kind counts add up to what was sent and can be set against the gateway's
// refusal counters (FL_ERR_VALIDATE_*, FL_ERR_DECODE_*, FL_ERR_RATE_LIMITED).
import { encode as cborgEncode } from 'cborg';
import { randomBytes } from 'node:crypto';
import { simulate } from './values.js';

/**
 * - good: a plausible reading.
 * - badValues: temperature out of range, "NaN" or another string as a value, or no metrics at all
 *   (refused by the gateway's validate step: OUT_OF_RANGE, NOT_NUMBER, SHAPE).
 * - skew: a good reading stamped a day ahead or 30 days back, as a device with a wrong clock would
 *   (refused as FL_ERR_VALIDATE_TIMESTAMP with the default 5 min / 7 day window).
 * - malformedPayload: bytes that do not decode as the declared format (FL_ERR_DECODE_JSON / _CBOR).
 * - burstMessages: good readings sent as part of a flood that outruns the sensor's rate.
 */
export type MessageKind = 'good' | 'badValues' | 'skew' | 'malformedPayload' | 'burstMessages';
export const MESSAGE_KINDS: readonly MessageKind[] = ['good', 'badValues', 'skew', 'malformedPayload', 'burstMessages'];

/** Shares (0-1) of a sensor's regular messages that carry each fault instead of a good reading. */
export interface MessageFaults {
  /** Out of range, "NaN" or another string as a value, or no metrics. */
  badValues?: number;
  /** A timestamp a day ahead or 30 days back. */
  skew?: number;
  /** Bytes that do not decode as JSON (or CBOR). */
  malformedPayload?: number;
}

export type PayloadFormat = 'json' | 'cbor';

/** One draw decides a regular message's kind, so the shares add up (and stay exclusive). */
export function pickKind(faults: MessageFaults, r = Math.random()): Exclude<MessageKind, 'burstMessages'> {
  let edge = faults.badValues ?? 0;
  if (r < edge) return 'badValues';
  edge += faults.skew ?? 0;
  if (r < edge) return 'skew';
  edge += faults.malformedPayload ?? 0;
  if (r < edge) return 'malformedPayload';
  return 'good';
}

const DAY_MS = 24 * 3_600_000;

export interface PayloadInput {
  kind: MessageKind;
  seq: number;
  /** The sensor's index, which phases its simulated values. */
  device: number;
  metricNames: readonly string[];
  ts: number;
  format: PayloadFormat;
}

export function telemetryPayload(p: PayloadInput): Buffer {
  if (p.kind === 'malformedPayload') return malformedPayload(p.format);
  const metrics: Record<string, unknown> = { seq: p.seq };
  for (const name of p.metricNames) metrics[name] = simulate(name, p.seq, p.device);
  const message: Record<string, unknown> = { ts: p.ts, metrics };
  if (p.kind === 'skew') message.ts = Math.random() < 0.5 ? p.ts + DAY_MS : p.ts - 30 * DAY_MS;
  if (p.kind === 'badValues') {
    const bad = Math.floor(Math.random() * 4);
    if (bad === 0) metrics.temperature = 999.9; // outside the default range of -50..100 °C
    else if (bad === 1) metrics.temperature = 'NaN'; // a firmware printing NaN into a string
    else if (bad === 2) metrics[p.metricNames[0] ?? 'temperature'] = 'warm';
    else delete message.metrics;
  }
  return p.format === 'cbor' ? Buffer.from(cborgEncode(message)) : Buffer.from(JSON.stringify(message));
}

/** Bytes that fail to decode: truncated, binary garbage, or another format altogether. */
export function malformedPayload(format: PayloadFormat): Buffer {
  const pick = Math.floor(Math.random() * 3);
  if (format === 'cbor') {
    // 0x1c-0x1e: reserved additional information (RFC 8949 §3); a map header with nothing after it;
    // a lone "break" outside an indefinite-length item.
    return [Buffer.from([0x1c]), Buffer.from([0xa2, 0x62, 0x74]), Buffer.from([0xff])][pick] as Buffer;
  }
  if (pick === 0) return Buffer.from('{"ts":1700000000000,"metrics":{"temperature":2'); // cut off mid-message
  if (pick === 1) return Buffer.concat([Buffer.from([0xff, 0x00]), randomBytes(16)]); // binary noise
  return Buffer.from('temperature=21.5;humidity=40'); // a sensor speaking its own text format
}
