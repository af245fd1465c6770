// How pipeline outcomes become CoAP answers, and the exchange rules around them, seen on the wire by
// a raw UDP client (stand-in pipelines make each outcome happen on demand).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../../gateway/src/errors.js';
import type { Ingest } from '../../gateway/src/ingest/adapter.js';
import { Code, Opt, codeString, emptyMessage, encodeMessage } from '../../gateway/src/ingest/coap/message.js';
import type { Envelope, Outcome } from '../../gateway/src/pipeline/types.js';
import { RawClient, coapClient, optionUint, sleep, startWithIngest } from './support.js';

/** A pipeline whose promises resolve only when the test says so. */
function heldPipeline() {
  const held: Array<{ env: Envelope; resolve: (o: Outcome) => void; reject: (e: Error) => void }> = [];
  const ingest: Ingest = (env) => new Promise((resolve, reject) => held.push({ env, resolve, reject }));
  return { held, ingest };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('CoAP answers to pipeline outcomes', () => {
  it('answers a rate-limited reading 4.29 with Max-Age from the limiter (RFC 8516)', async () => {
    const rejection = { code: 'FL_ERR_RATE_LIMITED' as ErrorCode, detail: 'device d over its limit', retryAfterMs: 2500 };
    const { adapter, port } = await startWithIngest(async () => ({ ok: false, stage: 'rate-limit', rejection }));
    const client = await RawClient.open(port);
    try {
      const res = await client.response(client.post('d', { metrics: { t: 1 } }));
      assert.equal(codeString(res.code), '4.29');
      assert.equal(res.type, 'ACK');
      assert.equal(optionUint(res, Opt.MAX_AGE), 3);
      assert.match(res.payload.toString(), /^FL_ERR_RATE_LIMITED: .*over its limit/);
      // libcoap reads it the same way.
      const lib = await coapClient(['-m', 'post', '-e', '{"metrics":{"t":1}}', `coap://127.0.0.1:${port}/telemetry/d`]);
      assert.equal(lib.code, '4.29');
      assert.match(lib.options, /Max-Age:3/);
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('answers 5.03 with Max-Age when the outbox cannot commit, and never 2.04', async () => {
    const { adapter, metrics, port } = await startWithIngest(async () => {
      throw new Error('SQLITE_FULL: database or disk is full');
    }, { piggybackMs: 0, unavailableMaxAgeS: 9 });
    const client = await RawClient.open(port);
    try {
      const req = client.post('d', { metrics: { t: 1 } });
      const res = await client.response(req);
      assert.equal(codeString(res.code), '5.03');
      assert.equal(optionUint(res, Opt.MAX_AGE), 9);
      assert.match(res.payload.toString(), /^FL_ERR_INGEST_UNAVAILABLE: .*disk is full/);
      await sleep(100);
      assert.ok(!client.received.some((m) => m.code === Code.CHANGED), 'nothing was acknowledged as stored');
      assert.equal(metrics.get('coap', 'sent'), 0);
      assert.equal(metrics.get('coap', 'errors'), 1);
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('sends 2.04 only after the pipeline resolves: an empty ACK first, then a separate response (§5.2.2)', async () => {
    const p = heldPipeline();
    const { adapter, port } = await startWithIngest(p.ingest, { piggybackMs: 50 });
    const client = await RawClient.open(port);
    try {
      const req = client.post('d', { metrics: { t: 1 } });
      const ack = await client.waitFor((m) => m.type === 'ACK' && m.messageId === req.messageId);
      assert.equal(ack.code, Code.EMPTY, 'the piggyback window passed: an empty ACK, no answer yet');
      await sleep(200);
      assert.ok(!client.received.some((m) => m.code !== Code.EMPTY), 'no response while the commit is pending');
      p.held[0]?.resolve({ ok: true, values: 1 });
      const res = await client.response(req);
      assert.equal(codeString(res.code), '2.04');
      assert.equal(res.type, 'CON', 'a separate response is confirmable');
      void client.sendRaw(emptyMessage('ACK', res.messageId));
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('retransmits a separate 2.04 until the client acknowledges it (§4.2)', async () => {
    const p = heldPipeline();
    const { adapter, port } = await startWithIngest(p.ingest, { piggybackMs: 0 });
    const client = await RawClient.open(port);
    try {
      const req = client.post('d', { metrics: { t: 1 } });
      await until(() => p.held.length === 1);
      p.held[0]?.resolve({ ok: true, values: 1 });
      const first = await client.response(req);
      const again = await client.response(req, 4000, client.received.indexOf(first) + 1);
      assert.equal(again.messageId, first.messageId, 'the same message, retransmitted after ACK_TIMEOUT');
      void client.sendRaw(emptyMessage('ACK', first.messageId));
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('processes a retransmitted request once and answers every copy the same (§4.5)', async () => {
    const p = heldPipeline();
    const { adapter, port } = await startWithIngest(p.ingest, { piggybackMs: 30 });
    const client = await RawClient.open(port);
    try {
      const req = client.post('d', { metrics: { t: 1 } });
      await until(() => p.held.length === 1);
      await sleep(60);
      const before = client.received.length;
      client.resend(req); // the empty ACK was "lost": the duplicate gets it again
      const reAck = await client.waitFor((m) => m.type === 'ACK' && m.code === Code.EMPTY && m.messageId === req.messageId, 2000, before);
      assert.ok(reAck);
      p.held[0]?.resolve({ ok: false, stage: 'decode', rejection: { code: 'FL_ERR_DECODE_JSON', detail: 'x' } });
      const first = await client.response(req);
      assert.equal(codeString(first.code), '4.00');
      void client.sendRaw(emptyMessage('ACK', first.messageId));
      const mark = client.received.length;
      client.resend(req); // a late retransmission: answered piggybacked with the same answer
      const replay = await client.response(req, 2000, mark);
      assert.equal(replay.type, 'ACK');
      assert.equal(replay.code, first.code);
      assert.deepEqual(replay.payload, first.payload);
      await sleep(50);
      assert.equal(p.held.length, 1, 'ingested once');
      // A new Message ID from the same client is a new request.
      client.post('d', { metrics: { t: 2 } });
      await until(() => p.held.length === 2);
      p.held[1]?.resolve({ ok: true, values: 1 });
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('answers 5.03 beyond maxInflight instead of queueing without bound', async () => {
    const p = heldPipeline();
    const { adapter, port } = await startWithIngest(p.ingest, { maxInflight: 2 });
    const client = await RawClient.open(port);
    try {
      const a = client.post('d', { metrics: { t: 1 } });
      const b = client.post('d', { metrics: { t: 2 } });
      await until(() => p.held.length === 2);
      const c = client.post('d', { metrics: { t: 3 } });
      assert.equal(codeString((await client.response(c)).code), '5.03');
      assert.equal(p.held.length, 2);
      for (const h of p.held) h.resolve({ ok: true, values: 1 });
      assert.equal(codeString((await client.response(a)).code), '2.04');
      assert.equal(codeString((await client.response(b)).code), '2.04');
      assert.match(adapter.status().detail, /1 busy/);
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('answers a NON request with a NON response, a ping with RST, and ignores a stray ACK', async () => {
    const { adapter, port } = await startWithIngest(async () => ({ ok: true, values: 1 }));
    const client = await RawClient.open(port);
    try {
      const non = client.post('d', { metrics: { t: 1 } }, { type: 'NON' });
      const res = await client.response(non);
      assert.equal(res.type, 'NON');
      assert.equal(codeString(res.code), '2.04');
      await client.sendRaw(emptyMessage('ACK', 4242));
      await client.sendRaw(encodeMessage({ type: 'CON', code: Code.EMPTY, messageId: 777, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
      const rst = await client.waitFor((m) => m.type === 'RST' && m.messageId === 777);
      assert.equal(rst.code, Code.EMPTY);
    } finally {
      await client.close();
      await adapter.stop();
    }
  });

  it('stop() lets a reading in the pipeline finish and answers it before closing', async () => {
    const p = heldPipeline();
    const { adapter, port } = await startWithIngest(p.ingest);
    const client = await RawClient.open(port);
    try {
      const req = client.post('d', { metrics: { t: 1 } });
      await until(() => p.held.length === 1);
      const stopped = adapter.stop();
      setTimeout(() => p.held[0]?.resolve({ ok: true, values: 1 }), 50);
      await stopped;
      assert.equal(codeString((await client.response(req)).code), '2.04');
    } finally {
      await client.close();
    }
  });
});
