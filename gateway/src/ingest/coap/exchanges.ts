// Duplicate detection (RFC 7252 §4.5): a retransmitted request must be processed only once, and a
// confirmable one answered again with the same response. Without this, a client whose ACK was lost
// would have its reading stored twice.
//
// Keyed by endpoint, Message ID *and* token. §4.5 needs only the first two, but the token makes a
// false match (a client that reuses Message IDs sooner than EXCHANGE_LIFETIME, e.g. after a
// reboot) answer a new reading with an old response far less likely; a true retransmission repeats
// the token anyway.
import type { Reply } from './reply.js';

/** RFC 7252 §4.8.2 EXCHANGE_LIFETIME with the default transmission parameters. */
export const EXCHANGE_LIFETIME_MS = 247_000;

export interface Exchange {
  startedMs: number;
  /** Unset while the request is in the pipeline. */
  reply?: Reply;
}

export class ExchangeTable {
  /** Insertion order is start order, so the oldest entry is always first. */
  private readonly entries = new Map<string, Exchange>();

  constructor(private readonly maxEntries: number, private readonly lifetimeMs = EXCHANGE_LIFETIME_MS) {}

  static key(address: string, port: number, messageId: number, token: Buffer): string {
    return `${address}|${port}|${messageId}|${token.toString('hex')}`;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now: number): Exchange | undefined {
    const e = this.entries.get(key);
    if (e && now - e.startedMs >= this.lifetimeMs && e.reply) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  begin(key: string, now: number): void {
    this.entries.set(key, { startedMs: now });
    // Expired entries leave from the front; beyond the bound the oldest finished ones go too. An
    // exchange still in the pipeline is never forgotten (the adapter's maxInflight ≤ maxEntries),
    // it moves to the back instead.
    for (let guard = this.entries.size; guard > 0; guard--) {
      const first = this.entries.entries().next().value;
      if (!first) break;
      const [k, e] = first;
      const expired = now - e.startedMs >= this.lifetimeMs;
      if (!expired && this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
      if (!e.reply) this.entries.set(k, e);
    }
  }

  complete(key: string, reply: Reply): void {
    const e = this.entries.get(key);
    if (e) e.reply = reply;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
