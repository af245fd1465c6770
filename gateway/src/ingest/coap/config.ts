// CoAP adapter settings. The schema is the documentation (sample.yaml shows the same settings as a
// file); every default is here and unknown keys are refused.
import { z } from 'zod';

export const coapConfigSchema = z.strictObject({
  /** Turn CoAP ingest off entirely. */
  enabled: z.boolean().default(true),
  /** Address to bind; an IPv6 address (e.g. "::") listens on udp6. */
  host: z.string().default('0.0.0.0'),
  /** UDP port (RFC 7252 §6.1 default 5683); 0 picks a free port. */
  port: z.number().int().min(0).max(65535).default(5683),
  /**
   * Larger request payloads get 4.13 Request Entity Too Large with a Size1 option carrying this
   * limit, and are quarantined (truncated to this size). Block-wise transfers (RFC 7959 Block1) are
   * not reassembled: a reading fits in one datagram, and 1024 bytes is RFC 7252 §4.6's payload
   * size for an unknown path MTU.
   */
  maxPayloadBytes: z.number().int().min(64).max(65_000).default(1024),
  /**
   * How long a confirmable request may wait for the outbox commit and still get its answer
   * piggybacked on the ACK (RFC 7252 §5.2.1). After that an empty ACK goes out and the answer follows
   * as a separate confirmable response (§5.2.2). Keep it under the clients' ACK_TIMEOUT (2 s, §4.8)
   * so they do not retransmit needlessly.
   */
  piggybackMs: z.number().int().min(0).max(1900).default(500),
  /**
   * Requests waiting for the pipeline at once. More are answered 5.03 Service Unavailable with
   * Max-Age, so a flood cannot queue unbounded work and memory.
   */
  maxInflight: z.number().int().min(1).max(100_000).default(1024),
  /**
   * Exchanges remembered for duplicate detection (RFC 7252 §4.5), at most EXCHANGE_LIFETIME (247 s)
   * each. A retransmitted request within that window is answered with the first answer and not
   * ingested again. Each entry costs 100-500 bytes (a refusal keeps its diagnostic text).
   */
  dedupEntries: z.number().int().min(1024).max(1_000_000).default(32_768),
  /** Max-Age (seconds) on 4.29 when the pipeline gives no retry time of its own (RFC 8516 §3). */
  rateLimitedMaxAgeS: z.number().int().min(0).max(86_400).default(1),
  /** Max-Age (seconds) on 5.03 when the outbox cannot commit or too many requests are in flight (§5.9.3.4). */
  unavailableMaxAgeS: z.number().int().min(0).max(86_400).default(5),
}).refine((c) => c.maxInflight <= c.dedupEntries, {
  // An exchange in flight is never forgotten, so the table must be able to hold all of them.
  message: 'expected maxInflight ≤ dedupEntries',
  path: ['maxInflight'],
});

export type CoapConfig = z.infer<typeof coapConfigSchema>;
