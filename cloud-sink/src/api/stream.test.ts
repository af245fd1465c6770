// GET /v1/stream through the real server and a real WebSocket client, with the feed fed by hand
// (no Kafka: test/stream/ has the broker): where the token may come from, every refusal before the
// upgrade as plain HTTP, subscribe messages, the OpenAPI entry.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import WebSocket from 'ws';
import { encodeBatch, SCHEMA_VERSION } from '../../../proto/src/wire.js';
import { cloudConfigSchema } from '../config/schema.js';
import { openEmbedded } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority } from './auth.js';
import { CLOSE, LiveFeed } from './live-feed.js';
import { buildApi } from './server.js';
import { STREAM_PROTOCOL } from './stream.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);
let jti = 0;
const token = (claims: Record<string, unknown>): Promise<string> =>
  new SignJWT({ ...claims, jti: `t${jti++}` }).setProtectedHeader({ alg: 'HS256' }).setIssuer('fieldline').setSubject('tester').setIssuedAt().setExpirationTime('10m').sign(key);

type Frame = Record<string, unknown>;

interface Opened {
  ws: WebSocket;
  frames: Frame[];
  next(type: string): Promise<Frame>;
}

/** Connects and waits for the `subscribed` frame; rejects with the HTTP status and body of a refused upgrade. */
function open(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers ?? {} });
    const frames: Frame[] = [];
    const waiters: { type: string; seen: number; done: (f: Frame) => void }[] = [];
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      frames.push(f);
      for (const w of [...waiters]) {
        if (f.type === w.type) {
          waiters.splice(waiters.indexOf(w), 1);
          w.done(f);
        }
      }
      if (frames.length === 1) resolve({ ws, frames, next: (type) => new Promise((done) => waiters.push({ type, seen: frames.length, done })) });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: JSON.parse(body || '{}') as Frame, headers: res.headers })));
    });
    ws.on('error', (err) => reject(err));
  });
}

async function refused(url: string, opts: Parameters<typeof open>[1] = {}): Promise<{ status: number; code: string; headers: Record<string, unknown> }> {
  try {
    const o = await open(url, opts);
    o.ws.close();
  } catch (err) {
    const e = err as { status?: number; body?: { error?: { code: string } }; headers?: Record<string, unknown> };
    assert.ok(e.status, String(err));
    return { status: e.status, code: e.body?.error?.code ?? '', headers: e.headers ?? {} };
  }
  assert.fail('the upgrade was accepted');
}

describe('GET /v1/stream (server and WebSocket, feed fed by hand)', () => {
  let store: Store;
  let app: ReturnType<typeof buildApi>;
  let feed: LiveFeed;
  let base: string;
  let admin: string;

  before(async () => {
    store = new Store(await openEmbedded(undefined));
    await store.migrate();
    const settings = cloudConfigSchema.parse({ api: { stream: { maxClientsPerToken: 2 } } }).api.stream;
    feed = new LiveFeed({ kafka: { brokers: 'unused:9092', sessionTimeoutMs: 10_000, rdkafka: {} }, readingsTopic: 'iot.readings', alertsTopic: 'iot.alerts', settings, maxBatchMessages: 100, log: pino({ level: 'silent' }) }, null);
    app = buildApi({ store, auth: new TokenAuthority(SECRET), maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '', stream: feed });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    base = `ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1/stream`;
    admin = await token({ role: 'admin' });
  });
  after(async () => {
    await feed.stop();
    await app.close();
    await store.close();
  });

  it('refuses before the upgrade, as plain HTTP JSON: 401 without or with a bad token, 403 without the scope, 400 for a bad filter', async () => {
    assert.deepEqual(await refused(base).then((r) => [r.status, r.code]), [401, 'FL_ERR_AUTH_MISSING']);
    assert.deepEqual(await refused(`${base}?access_token=not.a.jwt`).then((r) => [r.status, r.code]), [401, 'FL_ERR_AUTH_INVALID']);
    const other = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('fieldline').setExpirationTime('10m').sign(new TextEncoder().encode('x'.repeat(40)));
    assert.deepEqual(await refused(base, { headers: { authorization: `Bearer ${other}` } }).then((r) => [r.status, r.code]), [401, 'FL_ERR_AUTH_INVALID']);
    const rulesOnly = await token({ scope: 'write:rules' });
    assert.deepEqual(await refused(`${base}?access_token=${rulesOnly}`).then((r) => [r.status, r.code]), [403, 'FL_ERR_AUTH_SCOPE']);
    const telemetry = await token({ scope: 'read:telemetry' });
    assert.deepEqual(await refused(`${base}?kinds=alerts&access_token=${telemetry}`).then((r) => [r.status, r.code]), [403, 'FL_ERR_AUTH_SCOPE']);
    assert.deepEqual(await refused(`${base}?kinds=everything&access_token=${admin}`).then((r) => [r.status, r.code]), [400, 'FL_ERR_API_BAD_PARAM']);
    assert.deepEqual(await refused(`${base}?devices=d1&access_token=${admin}`).then((r) => [r.status, r.code]), [400, 'FL_ERR_API_BAD_PARAM'], 'an unknown parameter is refused, not ignored');
    assert.equal(feed.open(), 0);
  });

  it('answers a plain GET (no upgrade) with 426', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/stream', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(res.statusCode, 426);
    assert.equal(res.json().error.code, 'FL_ERR_API_UPGRADE_REQUIRED');
  });

  it('takes the token from the Authorization header, the bearer.<token> subprotocol (answering fieldline.v1) or access_token', async () => {
    const viaHeader = await open(base, { headers: { authorization: `Bearer ${await token({ role: 'viewer' })}` } });
    const viaProtocol = await open(base, { protocols: [STREAM_PROTOCOL, `bearer.${await token({ role: 'viewer' })}`] });
    const viaQuery = await open(`${base}?access_token=${await token({ scope: 'read:fleet' })}`);
    assert.equal(viaProtocol.ws.protocol, STREAM_PROTOCOL);
    assert.deepEqual(viaHeader.frames[0], { type: 'subscribed', kinds: ['readings', 'alerts'], device: null, metric: null, gateway: null });
    assert.deepEqual(viaQuery.frames[0]?.kinds, ['alerts']);
    for (const o of [viaHeader, viaProtocol, viaQuery]) o.ws.close();
  });

  it('holds a token to api.stream.maxClientsPerToken streams: one more is 429 with Retry-After', async () => {
    const t = await token({ role: 'viewer' });
    const a = await open(`${base}?access_token=${t}`);
    const b = await open(`${base}?access_token=${t}`);
    const r = await refused(`${base}?access_token=${t}`);
    assert.deepEqual([r.status, r.code], [429, 'FL_ERR_API_STREAM_LIMIT']);
    assert.equal(r.headers['retry-after'], '5');
    a.ws.close();
    await new Promise((done) => a.ws.once('close', done));
    // The place frees when the server sees the socket close.
    for (let i = 0; ; i++) {
      try {
        (await open(`${base}?access_token=${t}`)).ws.close();
        break;
      } catch (err) {
        if (i > 100) throw err;
        await new Promise((done) => setTimeout(done, 20));
      }
    }
    b.ws.close();
  });

  it('a subscribe message replaces the filter without reconnecting; a bad one gets an error frame and changes nothing', async () => {
    const o = await open(`${base}?device=d1&access_token=${admin}`);
    const send = (gw: string, device: string): void =>
      feed.handle([{ topic: 'iot.readings', value: encodeBatch({ gatewayId: gw, seq: 1, schemaVersion: SCHEMA_VERSION, readings: [{ deviceId: device, tsMs: Date.UTC(2026, 10, 30), metrics: { t: 1, h: 2 } }] }).value }]);
    send('gw', 'd1');
    assert.equal((await o.next('reading')).device_id, 'd1');
    o.ws.send(JSON.stringify({ type: 'subscribe', device: ['d2'], metric: 'h' }));
    assert.deepEqual(await o.next('subscribed'), { type: 'subscribed', kinds: ['readings', 'alerts'], device: ['d2'], metric: ['h'], gateway: null });
    o.ws.send(JSON.stringify({ type: 'subscribe', devices: 'd3' }));
    assert.equal(((await o.next('error')).error as { code: string }).code, 'FL_ERR_API_BAD_REQUEST');
    o.ws.send('not json');
    assert.match(((await o.next('error')).error as { message: string }).message, /not JSON/);
    send('gw', 'd1');
    send('gw', 'd2');
    assert.deepEqual(await o.next('reading'), { type: 'reading', gateway_id: 'gw', device_id: 'd2', ts: '2026-11-30T00:00:00.000Z', metrics: { h: 2 } });
    assert.deepEqual(o.frames.filter((f) => f.type === 'reading').map((f) => f.device_id), ['d1', 'd2']);
    o.ws.close();
  });

  it('is in the OpenAPI document with its query parameters', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, { get?: { parameters?: { name: string }[]; tags?: string[] } }> };
    const op = doc.paths['/v1/stream']?.get;
    assert.ok(op, 'GET /v1/stream is documented');
    assert.deepEqual(op.parameters?.map((p) => p.name).sort(), ['access_token', 'device', 'gateway', 'kinds', 'metric']);
    assert.deepEqual(op.tags, ['stream']);
  });

  it('closes every stream with 1001 when the feed stops', async () => {
    const o = await open(`${base}?access_token=${admin}`);
    const code = new Promise<number>((done) => o.ws.once('close', (c) => done(c)));
    await feed.stop();
    assert.equal(await code, CLOSE.goingAway);
  });
});
