// libcoap's own client (Debian libcoap3-bin) against the CoAP adapter, the real pipeline and the
// SQLite outbox: what a real device sees, and what ends up on disk.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encode as cborgEncode } from 'cborg';
// cborg returns a Uint8Array; callers want a Buffer.
const encodeCbor = (v: unknown): Buffer => Buffer.from(cborgEncode(v));
import { SourceProtocol } from '../../proto/src/wire.js';
import { coapClient, startRealGateway, type RealGateway } from './support.js';

describe('CoAP ingest with libcoap coap-client', () => {
  let gw: RealGateway;
  let url: (path: string) => string;
  const files = mkdtempSync(join(tmpdir(), 'fieldline-coap-files-'));

  before(async () => {
    gw = await startRealGateway({ maxPayloadBytes: 256 });
    url = (path) => `coap://127.0.0.1:${gw.port}${path}`;
  });
  after(async () => {
    await gw.stop();
    rmSync(files, { recursive: true, force: true });
  });

  it('answers a JSON POST (-t 50) with 2.04 and the reading is in the outbox', async () => {
    const ts = Date.now() - 1000;
    const r = await coapClient(['-m', 'post', '-t', '50', '-e', JSON.stringify({ ts, metrics: { temperature: 21.5, humidity: 40 } }), url('/telemetry/lab-1')]);
    assert.equal(r.code, '2.04', r.raw);
    const readings = gw.committed();
    assert.equal(readings.length, 1);
    assert.equal(readings[0]?.deviceId, 'lab-1');
    assert.equal(Number(readings[0]?.tsMs), ts);
    assert.deepEqual(readings[0]?.metrics, { temperature: 21.5, humidity: 40 });
    assert.equal(readings[0]?.source, SourceProtocol.SOURCE_PROTOCOL_COAP);
  });

  it('answers a CBOR POST (-t 60) with 2.04 and the reading is in the outbox', async () => {
    const file = join(files, 'reading.cbor');
    writeFileSync(file, encodeCbor({ metrics: { temperature: -3.25 } }));
    const r = await coapClient(['-m', 'post', '-t', '60', '-f', file, url('/telemetry/lab-2')]);
    assert.equal(r.code, '2.04', r.raw);
    const readings = gw.committed();
    assert.equal(readings.length, 1);
    assert.equal(readings[0]?.deviceId, 'lab-2');
    assert.deepEqual(readings[0]?.metrics, { temperature: -3.25 });
  });

  it('takes a POST without Content-Format as JSON, and a Non-confirmable one (-N) the same way', async () => {
    assert.equal((await coapClient(['-m', 'post', '-e', '{"metrics":{"t":1}}', url('/telemetry/lab-3')])).code, '2.04');
    const non = await coapClient(['-N', '-m', 'post', '-t', '50', '-e', '{"metrics":{"t":2}}', url('/telemetry/lab-3')]);
    assert.equal(non.code, '2.04', non.raw);
    assert.equal(non.type, 'NON', 'a NON request gets a NON response (RFC 7252 §5.2.3)');
    assert.deepEqual(gw.committed().map((x) => x.metrics?.t), [1, 2]);
  });

  it('answers bad payloads 4.00 with the catalogued reason, and quarantines them', async () => {
    const notJson = await coapClient(['-m', 'post', '-t', '50', '-e', '{"metrics":', url('/telemetry/lab-4')]);
    assert.equal(notJson.code, '4.00');
    assert.match(notJson.payload, /^FL_ERR_DECODE_JSON: payload is not valid JSON/);
    const notNumber = await coapClient(['-m', 'post', '-t', '50', '-e', '{"metrics":{"temperature":"warm"}}', url('/telemetry/lab-4')]);
    assert.equal(notNumber.code, '4.00');
    assert.match(notNumber.payload, /^FL_ERR_VALIDATE_NOT_NUMBER: .*temperature is \\?"warm\\?"/);
    const notCbor = await coapClient(['-m', 'post', '-t', '60', '-e', '%ff%ff', url('/telemetry/lab-4')]);
    assert.equal(notCbor.code, '4.00');
    assert.match(notCbor.payload, /^FL_ERR_DECODE_CBOR/);
    const badId = await coapClient(['-m', 'post', '-t', '50', '-e', '{"metrics":{"t":1}}', url('/telemetry/bad%20id')]);
    assert.equal(badId.code, '4.00');
    assert.match(badId.payload, /^FL_ERR_INGEST_DEVICE_ID/);
    assert.equal(gw.committed().length, 0);
    const q = gw.outbox.recentQuarantine(10).map((x) => x.reasonCode);
    for (const code of ['FL_ERR_DECODE_JSON', 'FL_ERR_VALIDATE_NOT_NUMBER', 'FL_ERR_DECODE_CBOR', 'FL_ERR_INGEST_DEVICE_ID']) assert.ok(q.includes(code), code);
  });

  it('answers an oversized payload 4.13 with Size1, in one datagram or block-wise', async () => {
    const big = JSON.stringify({ metrics: { t: 1 }, pad: 'x'.repeat(400) }); // > 256, < 1024: one datagram
    const one = await coapClient(['-m', 'post', '-t', '50', '-e', big, url('/telemetry/lab-5')]);
    assert.equal(one.code, '4.13', one.raw);
    assert.match(one.options, /Size1:256/);
    assert.match(one.payload, /^FL_ERR_INGEST_TOO_LARGE/);
    const huge = 'x'.repeat(3000); // libcoap sends this with Block1
    const blocks = await coapClient(['-m', 'post', '-t', '50', '-e', huge, url('/telemetry/lab-5')]);
    assert.match(blocks.raw, /Block1:0\/M\//, 'libcoap went block-wise');
    assert.equal(blocks.code, '4.13', blocks.raw);
    assert.match(blocks.options, /Size1:256/);
    assert.equal(gw.committed().length, 0);
  });

  it('answers a wrong method 4.05, an unknown path 4.04 and an unsupported content-format 4.15', async () => {
    assert.equal((await coapClient(['-m', 'get', url('/telemetry/lab-6')])).code, '4.05');
    assert.equal((await coapClient(['-m', 'put', '-e', '{"metrics":{"t":1}}', url('/telemetry/lab-6')])).code, '4.05');
    assert.equal((await coapClient(['-m', 'post', '-e', '{"metrics":{"t":1}}', url('/readings/lab-6')])).code, '4.04');
    assert.equal((await coapClient(['-m', 'post', '-e', '{"metrics":{"t":1}}', url('/telemetry')])).code, '4.04');
    const xml = await coapClient(['-m', 'post', '-t', '41', '-e', '<t>1</t>', url('/telemetry/lab-6')]);
    assert.equal(xml.code, '4.15');
    assert.match(xml.payload, /^FL_ERR_COAP_CONTENT_FORMAT: .*got 41/);
    assert.equal(gw.committed().length, 0);
  });
});

describe('CoAP flood with libcoap coap-client, against the real rate limiter', () => {
  let gw: RealGateway;
  before(async () => {
    // A device may send 3 at once and then one every 10 s: the 4th request in a row is a flood.
    gw = await startRealGateway({}, { rateLimit: { profiles: { default: { ratePerSecond: 0.1, burst: 3 } } } });
  });
  after(async () => {
    await gw.stop();
  });

  it('answers 2.04 within the burst, then 4.29 with Max-Age, and counts the throttled requests', async () => {
    const url = `coap://127.0.0.1:${gw.port}/telemetry/flooder`;
    const codes: string[] = [];
    let throttled: Awaited<ReturnType<typeof coapClient>> | undefined;
    for (let i = 0; i < 6; i++) {
      const r = await coapClient(['-m', 'post', '-t', '50', '-e', JSON.stringify({ metrics: { seq: i } }), url]);
      codes.push(r.code);
      if (r.code === '4.29') throttled = r;
    }
    assert.deepEqual(codes, ['2.04', '2.04', '2.04', '4.29', '4.29', '4.29']);
    assert.match(throttled!.payload, /^FL_ERR_RATE_LIMITED/);
    assert.match(throttled!.options, /Max-Age:\d+/);
    assert.equal(gw.metrics.deviceLoss.get('flooder')?.rateLimited, 3);
    assert.equal(gw.committed().length, 3);
  });
});
