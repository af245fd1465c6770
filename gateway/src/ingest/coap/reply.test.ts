import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../errors.js';
import { Opt, codeString, decodeUint } from './message.js';
import { outcomeReply, unavailable } from './reply.js';

const cfg = { maxPayloadBytes: 1024, rateLimitedMaxAgeS: 3 };
const refused = (code: string, detail = 'why', extra: object = {}) =>
  outcomeReply({ ok: false, stage: 'x', rejection: { code: code as ErrorCode, detail, ...extra } }, cfg);
const option = (r: ReturnType<typeof refused>, n: number) => {
  const o = r.options.find((x) => x.number === n);
  return o ? decodeUint(o.value) : undefined;
};

describe('CoAP replies from pipeline outcomes', () => {
  it('answers 2.04 without a payload for a committed reading', () => {
    const r = outcomeReply({ ok: true, values: 2 }, cfg);
    assert.equal(codeString(r.code), '2.04');
    assert.equal(r.payload.length, 0);
  });

  it('answers 4.00 with a diagnostic payload "FL_ERR_…: reason" (§5.5.2)', () => {
    const r = refused('FL_ERR_DECODE_JSON', 'Unexpected token');
    assert.equal(codeString(r.code), '4.00');
    assert.equal(r.payload.toString(), 'FL_ERR_DECODE_JSON: payload is not valid JSON: Unexpected token');
    assert.equal(r.options.length, 0, 'a diagnostic payload has no Content-Format');
  });

  it('answers 4.13 with Size1 = the limit (§5.9.2.9, §5.10.9)', () => {
    const r = refused('FL_ERR_INGEST_TOO_LARGE');
    assert.equal(codeString(r.code), '4.13');
    assert.equal(option(r, Opt.SIZE1), 1024);
  });

  it('answers 4.29 with Max-Age from the rate limiter, rounded up to seconds, else the configured one (RFC 8516)', () => {
    const withRetry = refused('FL_ERR_RATE_LIMITED', 'slow down', { retryAfterMs: 1500 });
    assert.equal(codeString(withRetry.code), '4.29');
    assert.equal(option(withRetry, Opt.MAX_AGE), 2);
    assert.equal(option(refused('FL_ERR_RATE_LIMITED'), Opt.MAX_AGE), 3);
  });

  it('answers 4.15 for an unsupported Content-Format', () => {
    assert.equal(codeString(refused('FL_ERR_COAP_CONTENT_FORMAT').code), '4.15');
  });

  it('answers 5.03 with Max-Age when nothing could be stored (§5.9.3.4)', () => {
    const r = unavailable('disk full', 7);
    assert.equal(codeString(r.code), '5.03');
    assert.equal(option(r, Opt.MAX_AGE), 7);
    assert.match(r.payload.toString(), /^FL_ERR_INGEST_UNAVAILABLE: .*disk full$/);
  });

  it('keeps the diagnostic within one datagram and whole UTF-8 characters', () => {
    const r = refused('FL_ERR_DECODE_JSON', 'é'.repeat(500));
    assert.ok(r.payload.length <= 240);
    assert.ok(!r.payload.toString('utf8').includes('\uFFFD'));
  });
});
