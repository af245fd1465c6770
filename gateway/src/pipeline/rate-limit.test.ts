// Token buckets and the per-protocol cap on a clock the test sets (every call takes `now`): a burst
// is allowed and then refused, tokens come back at the configured rate, and the protocol's cap
// limits the total across devices that are each within their own limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { RateLimiter, TokenBucket, rateLimitStep } from './rate-limit.js';
import type { Envelope } from './types.js';

const T0 = 1_700_000_000_000;
const MQTT = v1.SourceProtocol.SOURCE_PROTOCOL_MQTT;
const COAP = v1.SourceProtocol.SOURCE_PROTOCOL_COAP;

/** How many of `n` takes at `now` succeed. */
function takes(bucket: TokenBucket, n: number, now: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (bucket.take(now)) ok++;
  return ok;
}

describe('TokenBucket', () => {
  it('allows a burst, refuses the next, and refills at the rate', () => {
    const bucket = new TokenBucket(10, 5, T0); // 10 a second, 5 at once
    assert.equal(takes(bucket, 8, T0), 5, 'the burst, then nothing');
    assert.equal(bucket.retryAfterMs(), 100, 'one token every 100 ms');
    assert.equal(bucket.take(T0 + 50), false, 'half a token is not enough');
    assert.equal(bucket.take(T0 + 100), true, 'a token 100 ms later');
    assert.equal(bucket.take(T0 + 100), false);
    // A long quiet spell refills up to the burst, not beyond.
    assert.equal(takes(bucket, 20, T0 + 60_000), 5);
    // Half a second at 10/s: five tokens.
    assert.equal(takes(bucket, 20, T0 + 60_500), 5);
  });

  it('a clock stepping back neither refills nor drains the bucket', () => {
    const bucket = new TokenBucket(10, 2, T0);
    assert.equal(takes(bucket, 2, T0), 2);
    assert.equal(bucket.take(T0 - 3_600_000), false, 'an hour back gives no tokens');
    assert.equal(bucket.take(T0 + 100), true, 'and the time already counted is not lost');
  });
});

describe('RateLimiter', () => {
  const cfg = gatewayConfigSchema.parse({
    devices: { known: [{ id: 'slow', profile: 'slow' }] },
    rateLimit: {
      profiles: { default: { ratePerSecond: 5, burst: 5 }, slow: { ratePerSecond: 1, burst: 1 } },
      perProtocol: { mqtt: { ratePerSecond: 10, burst: 12 } },
    },
  }).rateLimit;

  it('limits each device to its profile, independently of the others', () => {
    const limiter = new RateLimiter(cfg, [{ id: 'slow', profile: 'slow' }], T0);
    const refusals = (device: string, n: number, now: number) =>
      Array.from({ length: n }, () => limiter.check(device, COAP, now)).filter((r) => r !== undefined);
    assert.equal(refusals('a', 5, T0).length, 0, 'the default burst of 5');
    assert.deepEqual(refusals('a', 1, T0), [{ limit: 'device', retryAfterMs: 200 }]);
    assert.equal(refusals('b', 5, T0).length, 0, 'another device has its own bucket');
    assert.equal(refusals('slow', 2, T0).length, 1, 'a listed device uses its profile: burst 1');
    assert.equal(refusals('a', 1, T0 + 200).length, 0, 'refilled at 5/s');
  });

  it('the per-protocol cap limits the protocol\'s total across devices, each within its own limit', () => {
    const limiter = new RateLimiter(cfg, [], T0);
    // Four devices, five messages each at once: 20 offered, each device within its burst of 5, so
    // only the MQTT cap (burst 12) refuses.
    const outcomes = ['d1', 'd2', 'd3', 'd4'].flatMap((d) => Array.from({ length: 5 }, () => limiter.check(d, MQTT, T0)));
    assert.equal(outcomes.filter((o) => o === undefined).length, 12);
    assert.ok(outcomes.filter((o) => o !== undefined).every((o) => o?.limit === 'protocol'), JSON.stringify(outcomes));
    // Another protocol has its own cap: CoAP is not affected by MQTT's.
    assert.equal(limiter.check('c1', COAP, T0), undefined);
    // The cap refills at its rate (10/s): one more message 100 ms later, from a device with tokens left.
    assert.equal(limiter.check('d5', MQTT, T0 + 100), undefined);
    assert.equal(limiter.check('d6', MQTT, T0 + 100)?.limit, 'protocol');
  });

  it('as a pipeline step: refused with FL_ERR_RATE_LIMITED and the time to retry, counted as rate-limited loss', () => {
    const step = rateLimitStep(new RateLimiter(cfg, [], T0));
    assert.equal(step.loss, 'rateLimited');
    const env = (receivedMs: number): Envelope => ({ deviceId: 'd', source: COAP, format: 'json', raw: Buffer.from('{}'), receivedMs, topic: 't' });
    for (let i = 0; i < 5; i++) assert.equal(step.run(env(T0)), undefined);
    const r = step.run(env(T0));
    assert.equal(r?.code, 'FL_ERR_RATE_LIMITED');
    assert.equal(r?.retryAfterMs, 200);
    assert.match(r?.detail ?? '', /device d over its limit/);
    assert.equal(step.run(env(T0 + 200)), undefined, 'the step uses the envelope\'s receive time as its clock');
  });
});
