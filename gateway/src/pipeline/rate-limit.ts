// Token buckets per device (rate and burst from the device's profile) and per protocol (a cap on
// the whole gateway's intake from one protocol). A throttled message is dropped and counted as
// rate-limited loss; it is not quarantined (nothing is wrong with it).
import type { Bucket, GatewayConfig } from '../config/schema.js';
import { SourceProtocol } from '../../../proto/src/wire.js';
import type { Step } from './types.js';

export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    // A clock that steps back must not drain the bucket.
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until one token is there again. */
  retryAfterMs(): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

/** Buckets of devices not heard from are dropped beyond this many, oldest first, to bound memory. */
const MAX_TRACKED_DEVICES = 100_000;

export class RateLimiter {
  private readonly devices = new Map<string, TokenBucket>();
  private readonly protocols = new Map<SourceProtocol, TokenBucket>();
  private readonly profileOf = new Map<string, string>();

  constructor(private readonly cfg: GatewayConfig['rateLimit'], known: GatewayConfig['devices']['known'], now = Date.now()) {
    for (const d of known) this.profileOf.set(d.id, d.profile);
    const p = cfg.perProtocol;
    const proto = (b: Bucket) => new TokenBucket(b.ratePerSecond, b.burst, now);
    this.protocols.set(SourceProtocol.SOURCE_PROTOCOL_MQTT, proto(p.mqtt));
    this.protocols.set(SourceProtocol.SOURCE_PROTOCOL_COAP, proto(p.coap));
    this.protocols.set(SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU, proto(p.modbus));
    this.protocols.set(SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP, proto(p.modbus));
  }

  /** undefined when allowed; otherwise which limit refused it. */
  check(deviceId: string, source: SourceProtocol, now: number): { limit: 'device' | 'protocol'; retryAfterMs: number } | undefined {
    let bucket = this.devices.get(deviceId);
    if (bucket) {
      // Re-insert so Map order tracks recency for the eviction below.
      this.devices.delete(deviceId);
    } else {
      const profile = this.cfg.profiles[this.profileOf.get(deviceId) ?? 'default'] ?? { ratePerSecond: 50, burst: 200 };
      bucket = new TokenBucket(profile.ratePerSecond, profile.burst, now);
      if (this.devices.size >= MAX_TRACKED_DEVICES) this.devices.delete(this.devices.keys().next().value as string);
    }
    this.devices.set(deviceId, bucket);
    if (!bucket.take(now)) return { limit: 'device', retryAfterMs: bucket.retryAfterMs() };
    const proto = this.protocols.get(source);
    if (proto && !proto.take(now)) return { limit: 'protocol', retryAfterMs: proto.retryAfterMs() };
    return undefined;
  }
}

export function rateLimitStep(limiter: RateLimiter): Step {
  return {
    name: 'rate-limit',
    loss: 'rateLimited',
    run(env) {
      const hit = limiter.check(env.deviceId, env.source, env.receivedMs);
      if (!hit) return undefined;
      return {
        code: 'FL_ERR_RATE_LIMITED',
        detail: `${hit.limit === 'device' ? `device ${env.deviceId}` : 'protocol'} over its limit; retry in ${hit.retryAfterMs} ms`,
        retryAfterMs: hit.retryAfterMs,
      };
    },
  };
}
