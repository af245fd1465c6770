import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Code, ContentFormat, Opt, codeString, encodeUint, type CoapMessage, type CoapOption } from './message.js';
import { routeRequest } from './route.js';

const cfg = { maxPayloadBytes: 64 };

function req(path: string[], opts: { code?: number; options?: CoapOption[]; payload?: string; cf?: number } = {}): CoapMessage {
  const options: CoapOption[] = path.map((p) => ({ number: Opt.URI_PATH, value: Buffer.from(p) }));
  if (opts.cf !== undefined) options.push({ number: Opt.CONTENT_FORMAT, value: encodeUint(opts.cf) });
  options.push(...(opts.options ?? []));
  options.sort((a, b) => a.number - b.number);
  return { type: 'CON', code: opts.code ?? Code.POST, messageId: 1, token: Buffer.alloc(0), options, payload: Buffer.from(opts.payload ?? '{}') };
}

function replyCode(m: CoapMessage): string {
  const r = routeRequest(m, cfg);
  return r.kind === 'reply' ? codeString(r.reply.code) : r.preRejection?.code ?? `telemetry ${r.format} ${r.deviceId}`;
}

describe('CoAP request routing', () => {
  it('takes POST /telemetry/{id} as JSON without a Content-Format, and as CBOR with 60', () => {
    assert.equal(replyCode(req(['telemetry', 'dev-1'])), 'telemetry json dev-1');
    assert.equal(replyCode(req(['telemetry', 'dev-1'], { cf: ContentFormat.JSON })), 'telemetry json dev-1');
    assert.equal(replyCode(req(['telemetry', 'dev-1'], { cf: ContentFormat.CBOR })), 'telemetry cbor dev-1');
  });

  it('answers 4.04 for other paths and 4.05 for other methods on the resource (§5.9.2.5, §5.9.2.6)', () => {
    assert.equal(replyCode(req(['telemetry'])), '4.04');
    assert.equal(replyCode(req(['telemetry', 'a', 'b'])), '4.04');
    assert.equal(replyCode(req(['other', 'a'])), '4.04');
    assert.equal(replyCode(req(['telemetry', 'a'], { code: 1 })), '4.05');
    assert.equal(replyCode(req(['telemetry', 'a'], { code: 3 })), '4.05');
    assert.equal(replyCode(req(['telemetry', 'a'], { code: 31 })), '4.05'); // unknown method code (§5.8)
  });

  it('sends an unsupported Content-Format, an oversized payload and a bad device id to quarantine', () => {
    assert.equal(replyCode(req(['telemetry', 'a'], { cf: 41 })), 'FL_ERR_COAP_CONTENT_FORMAT');
    assert.equal(replyCode(req(['telemetry', 'a'], { payload: 'x'.repeat(65) })), 'FL_ERR_INGEST_TOO_LARGE');
    assert.equal(replyCode(req(['telemetry', 'a'], { payload: 'x'.repeat(64) })), 'telemetry json a');
    assert.equal(replyCode(req(['telemetry', 'bad id'])), 'FL_ERR_INGEST_DEVICE_ID');
    assert.equal(replyCode(req(['telemetry', ''])), 'FL_ERR_INGEST_DEVICE_ID');
    assert.equal(replyCode(req(['telemetry', 'x'.repeat(129)])), 'FL_ERR_INGEST_DEVICE_ID');
  });

  it('refuses block-wise uploads: the first block is quarantined, later blocks get 4.13 with Size1 (RFC 7959 §2.9.3)', () => {
    const block1 = (num: number, more: number, szx: number) => ({ number: Opt.BLOCK1, value: encodeUint((num << 4) | (more << 3) | szx) });
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [block1(0, 1, 6)] })), 'FL_ERR_INGEST_TOO_LARGE');
    const later = routeRequest(req(['telemetry', 'a'], { options: [block1(3, 1, 6)] }), cfg);
    assert.ok(later.kind === 'reply');
    assert.equal(codeString(later.reply.code), '4.13');
    assert.deepEqual(later.reply.options.find((o) => o.number === Opt.SIZE1)?.value, encodeUint(64));
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [block1(0, 0, 7)] })), '4.00');
    // A single block that is the whole body is an ordinary request.
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [block1(0, 0, 6)] })), 'telemetry json a');
  });

  it('answers 4.02 for an unrecognized critical option and ignores elective ones (§5.4.1)', () => {
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [{ number: Opt.IF_MATCH, value: Buffer.from('x') }] })), '4.02');
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [{ number: 2049, value: Buffer.alloc(0) }] })), '4.02');
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [{ number: 2048, value: Buffer.alloc(0) }] })), 'telemetry json a');
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [{ number: Opt.OBSERVE, value: Buffer.alloc(0) }] })), 'telemetry json a');
    // §5.4.5: a second Block1 is an unrecognized critical option.
    const b = { number: Opt.BLOCK1, value: encodeUint(6) };
    assert.equal(replyCode(req(['telemetry', 'a'], { options: [b, b] })), '4.02');
  });

  it('answers 5.05 to a proxy request (§5.7.2)', () => {
    assert.equal(replyCode(req([], { options: [{ number: Opt.PROXY_URI, value: Buffer.from('coap://x/y') }] })), '5.05');
  });
});
