// The live feed's fan-out, caps and drops with fake sockets and no Kafka: messages go in through
// handle(), exactly as the consumer hands them over.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { encodeBatch, SCHEMA_VERSION } from '../../../proto/src/wire.js';
import { cloudConfigSchema } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { Principal, Scope } from './auth.js';
import { CLOSE, LiveFeed, type StreamClient, type StreamSocket } from './live-feed.js';
import { parseFilter, type FilterInput } from './stream-filter.js';

const READINGS = 'iot.readings';
const ALERTS = 'iot.alerts';

/** A socket whose peer reads nothing while `stalled`: every frame sent then stays in bufferedAmount. */
class FakeSocket implements StreamSocket {
  bufferedAmount = 0;
  stalled = false;
  readonly frames: Record<string, unknown>[] = [];
  closedWith: [number, string] | null = null;
  terminated = false;
  pings = 0;
  client: StreamClient | null = null;

  send(data: string): void {
    this.frames.push(JSON.parse(data) as Record<string, unknown>);
    if (this.stalled) this.bufferedAmount += Buffer.byteLength(data);
  }
  ping(): void {
    this.pings++;
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.client?.closed();
  }
  terminate(): void {
    this.terminated = true;
    this.client?.closed();
  }
  of(type: string): Record<string, unknown>[] {
    return this.frames.filter((f) => f.type === type);
  }
}

function feed(over: Record<string, unknown> = {}): LiveFeed {
  const settings = cloudConfigSchema.parse({ api: { stream: { maxBufferedBytes: 4096, maxClients: 5, maxClientsPerToken: 2, ...over } } }).api.stream;
  return new LiveFeed({ kafka: { brokers: 'unused:9092', sessionTimeoutMs: 10_000, rdkafka: {} }, readingsTopic: READINGS, alertsTopic: ALERTS, settings, maxBatchMessages: 100, log: pino({ level: 'silent' }) }, null);
}

const principal = (scopes: Scope[], fleet: string[] | null = null): Principal => ({ subject: 't', scopes: new Set(scopes), fleet: fleet && new Set(fleet) });

let tokenSeq = 0;
function connect(f: LiveFeed, p: Principal, q: FilterInput = {}, expiresAtMs: number | null = null): FakeSocket {
  const socket = new FakeSocket();
  socket.client = f.attach(f.admit(`token-${tokenSeq++}`), socket, p, parseFilter(q, p, 'FL_ERR_API_BAD_PARAM'), expiresAtMs);
  return socket;
}

function batch(gatewayId: string, readings: { device: string; ts: number; metrics: Record<string, number> }[]) {
  const value = encodeBatch({ gatewayId, seq: 1, createdMs: 1, schemaVersion: SCHEMA_VERSION, readings: readings.map((r) => ({ deviceId: r.device, tsMs: r.ts, metrics: r.metrics })) }).value;
  return { topic: READINGS, value };
}

function alert(gateway: string, device?: string) {
  const event = { event_id: `e-${gateway}-${device ?? ''}`, type: 'firing', at: '2026-11-30T06:00:00.000Z', emitted_at: '2026-11-30T06:00:01.000Z', late: false, rule_name: 'hot', alert: { id: 'a1', rule_id: 'r1', target: { gateway, ...(device ? { device } : {}) }, state: 'firing' } };
  return { topic: ALERTS, value: Buffer.from(JSON.stringify(event)), event };
}

const T = Date.UTC(2026, 10, 30, 6);

describe('live feed', () => {
  it('starts each client with the filter in force, then sends each the readings its filter and fleet allow', () => {
    const f = feed();
    const everything = connect(f, principal(['admin']));
    const d1temp = connect(f, principal(['read:telemetry']), { device: 'd1', metric: 'temperature' });
    const fleetB = connect(f, principal(['read:telemetry', 'read:fleet'], ['gw-b']));
    assert.deepEqual(d1temp.frames[0], { type: 'subscribed', kinds: ['readings'], device: ['d1'], metric: ['temperature'], gateway: null });
    f.handle([batch('gw-a', [{ device: 'd1', ts: T, metrics: { temperature: 20, humidity: 50 } }, { device: 'd2', ts: T + 1, metrics: { temperature: 21 } }])]);
    assert.deepEqual(everything.of('reading').map((r) => r.device_id), ['d1', 'd2']);
    assert.deepEqual(everything.of('reading')[0], { type: 'reading', gateway_id: 'gw-a', device_id: 'd1', ts: new Date(T).toISOString(), metrics: { temperature: 20, humidity: 50 } });
    assert.deepEqual(d1temp.of('reading'), [{ type: 'reading', gateway_id: 'gw-a', device_id: 'd1', ts: new Date(T).toISOString(), metrics: { temperature: 20 } }]);
    assert.deepEqual(fleetB.of('reading'), [], "gw-a is outside the token's fleet");
    assert.equal(f.stats.received, 1);
  });

  it("sends alerts to read:fleet tokens within the alert's fleet only", () => {
    const f = feed();
    const ops = connect(f, principal(['read:fleet', 'read:telemetry']));
    const telemetryOnly = connect(f, principal(['read:telemetry']));
    const fleetA = connect(f, principal(['read:fleet'], ['gw-a']));
    const a = alert('gw-a', 'd1');
    const b = alert('gw-b');
    f.handle([a, b]);
    assert.deepEqual(ops.of('alert'), [{ type: 'alert', event: a.event }, { type: 'alert', event: b.event }]);
    assert.deepEqual(telemetryOnly.of('alert'), []);
    assert.deepEqual(fleetA.of('alert'), [{ type: 'alert', event: a.event }]);
  });

  it('closes a client that stops reading with 1013 once its unsent frames pass maxBufferedBytes, counts it, and keeps serving the others', () => {
    const f = feed();
    const slow = connect(f, principal(['read:telemetry']));
    const fast = connect(f, principal(['read:telemetry']));
    slow.stalled = true;
    const big = Array.from({ length: 50 }, (_, i) => ({ device: `d${i}`, ts: T + i, metrics: { temperature: i, humidity: i, pressure: i } }));
    f.handle([batch('gw-a', big)]);
    assert.deepEqual(slow.closedWith?.[0], CLOSE.tooSlow);
    assert.match(slow.closedWith?.[1] ?? '', /too slow/);
    const sentToSlow = slow.of('reading').length;
    assert.ok(sentToSlow < 50, `sending stopped at the limit (${sentToSlow} of 50 frames)`);
    assert.ok(slow.bufferedAmount <= 4096 + 200, `bounded by the limit plus one frame (${slow.bufferedAmount} bytes)`);
    assert.equal(f.tallies().dropped.slow_client, 1);
    f.handle([batch('gw-a', [{ device: 'after', ts: T, metrics: { temperature: 1 } }])]);
    assert.equal(fast.of('reading').length, 51, 'the reading client got everything');
    assert.equal(slow.of('reading').length, sentToSlow, 'nothing more to the dropped one');
    assert.equal(f.open(), 1);
  });

  it('holds streams per token and per process within their caps (429, 503); a closed stream frees its place', () => {
    const f = feed();
    const a1 = f.admit('A');
    f.admit('A');
    const perToken = (() => {
      try {
        f.admit('A');
      } catch (err) {
        return err as FieldlineError;
      }
    })();
    assert.equal(perToken?.code, 'FL_ERR_API_STREAM_LIMIT');
    assert.equal(perToken?.statusCode, 429);
    a1.release();
    a1.release();
    f.admit('A');
    f.admit('B');
    f.admit('C');
    f.admit('D');
    assert.throws(() => f.admit('E'), (err: FieldlineError) => err.code === 'FL_ERR_API_STREAM_BUSY' && err.statusCode === 503);
    assert.deepEqual([f.stats.refusedPerToken, f.stats.refusedFull], [1, 1]);
  });

  it('an admission released before the upgrade finished gets no stream', () => {
    const f = feed();
    const adm = f.admit('A');
    adm.release();
    const socket = new FakeSocket();
    assert.equal(f.attach(adm, socket, principal(['admin']), parseFilter({}, principal(['admin']), 'FL_ERR_API_BAD_PARAM'), null), null);
    assert.equal(socket.closedWith?.[0], CLOSE.goingAway);
  });

  it('pings every client each round and cuts off one that did not answer the previous ping', () => {
    const f = feed();
    const answers = connect(f, principal(['admin']));
    const silent = connect(f, principal(['admin']));
    f.sweep();
    assert.deepEqual([answers.pings, silent.pings], [1, 1]);
    answers.client!.heard();
    f.sweep();
    assert.equal(silent.terminated, true);
    assert.equal(answers.terminated, false);
    assert.equal(answers.pings, 2);
    assert.equal(f.tallies().dropped.dead_peer, 1);
  });

  it('closes a stream with 4401 when its token expires', async () => {
    const f = feed();
    const s = connect(f, principal(['admin']), {}, Date.now() + 50);
    const expired = connect(f, principal(['admin']), {}, Date.now() - 1);
    assert.equal(expired.closedWith?.[0], CLOSE.tokenExpired);
    while (s.closedWith === null) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(s.closedWith, [CLOSE.tokenExpired, 'token expired']);
    assert.equal(f.stats.tokensExpired, 2);
  });

  it('counts messages that are no batch or no alert event, and sends nothing for them', () => {
    const f = feed();
    const s = connect(f, principal(['admin']));
    f.handle([{ topic: READINGS, value: Buffer.from('not lz4') }, { topic: ALERTS, value: Buffer.from('{"no": "target"}') }, { topic: ALERTS, value: Buffer.from('{') }]);
    assert.equal(f.tallies().dropped.undecodable, 3);
    assert.deepEqual(s.of('reading').concat(s.of('alert')), []);
  });

  it('does not decode batches while no client wants readings', () => {
    const f = feed();
    connect(f, principal(['read:fleet']));
    f.handle([{ topic: READINGS, value: Buffer.from('not lz4') }]);
    assert.equal(f.tallies().dropped.undecodable, 0);
  });

  it('stop() closes every client with 1001 and refuses new ones', async () => {
    const f = feed();
    const a = connect(f, principal(['admin']));
    const b = connect(f, principal(['admin']));
    await f.stop();
    assert.deepEqual([a.closedWith?.[0], b.closedWith?.[0]], [CLOSE.goingAway, CLOSE.goingAway]);
    assert.equal(f.open(), 0);
    assert.throws(() => f.admit('late'), (err: FieldlineError) => err.statusCode === 503);
  });
});
