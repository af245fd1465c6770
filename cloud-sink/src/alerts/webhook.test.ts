// The webhook deliverer against the embedded database (in memory), with a fake fetch and a clock the
// test moves: signature, retry schedule, give-up, outcomes, and the concurrency limits.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { openEmbedded, type Db } from '../store/db.js';
import { migrate } from '../store/schema.js';
import { recordEvent, type AlertRow, type Receiver } from './events.js';
import { backoffMs, signPayload, verifySignature, WebhookDeliverer, type WebhookSettings } from './webhook.js';

const T0 = Date.parse('2026-11-20T10:00:00.000Z');
const log = pino({ level: 'silent' });

class TestClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

const SETTINGS: WebhookSettings = {
  intervalMs: 50,
  timeoutMs: 200,
  minBackoffMs: 1_000,
  maxBackoffMs: 8_000,
  giveUpAfterMs: 60_000,
  concurrency: 4,
  perUrlConcurrency: 2,
  retentionMs: 7 * 86_400_000,
};

function alertRow(id: string, at: number): AlertRow {
  return {
    id, rule_id: 'rule-1', target_key: 'dev-1/temperature', gateway_id: 'gw-1', device_id: 'dev-1', metric: 'temperature',
    state: 'firing', severity: 'critical', value: 91.5, message: 'temperature above 90', started_at: new Date(at), raised_at: new Date(at),
    late: false, resolved_at: null, resolved_late: null, acked_by: null, acked_at: null,
  };
}

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
  redirect: RequestInit['redirect'];
}

/** A fetch that records each request and answers what `answer` says for it. */
function fakeFetch(answer: (req: Sent, n: number) => Promise<Response> | Response): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const req: Sent = {
      url: String(input),
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      body: String(init?.body),
      redirect: init?.redirect,
    };
    sent.push(req);
    const signal = init?.signal;
    const answered = Promise.resolve(answer(req, sent.length));
    if (!signal) return answered;
    return Promise.race([
      answered,
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
    ]);
  }) as typeof fetch;
  return { fetch: f, sent };
}

interface DeliveryRow {
  event_id: string;
  attempts: number;
  next_attempt_at: Date;
  delivered_at: Date | null;
  gave_up_at: Date | null;
  last_status: number | null;
  last_error: string | null;
}

describe('webhook signature', () => {
  const body = '{"event_id":"e-1","type":"firing"}';

  it('is v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>, as openssl computes it', () => {
    assert.equal(signPayload('whsec_test', 1_700_000_000, body), 'v1=99c530672bfaefea8261bff51d93629cec2661a5000f939ef2cae8c782230474');
  });

  it('verifies with the secret and the timestamp, and fails with another secret, body or timestamp, or when stale', () => {
    const sig = signPayload('whsec_test', 1_700_000_000, body);
    assert.equal(verifySignature('whsec_test', body, '1700000000', sig, 1_700_000_010), true);
    assert.equal(verifySignature('whsec_other', body, '1700000000', sig, 1_700_000_010), false);
    assert.equal(verifySignature('whsec_test', body.replace('firing', 'resolved'), '1700000000', sig, 1_700_000_010), false);
    assert.equal(verifySignature('whsec_test', body, '1700000001', sig, 1_700_000_010), false);
    assert.equal(verifySignature('whsec_test', body, '1700000000', sig, 1_700_000_000 + 301), false, 'a replay after the tolerance');
    assert.equal(verifySignature('whsec_test', body, undefined, sig, 1_700_000_000), false);
    assert.equal(verifySignature('whsec_test', body, '1700000000', `v1=${'0'.repeat(64)}, ${sig}`, 1_700_000_000), true, 'any of several signatures');
  });
});

describe('webhook backoff', () => {
  it('doubles from minBackoffMs per failure and stops at maxBackoffMs, jitter taking at most half', () => {
    const s = { minBackoffMs: 1_000, maxBackoffMs: 8_000 };
    const top = () => 0.999999;
    assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => backoffMs(n, s, top)), [1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000]);
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffMs(n, s, () => 0)), [500, 1_000, 2_000, 4_000, 4_000]);
    for (let n = 1; n < 10; n++) {
      const b = backoffMs(n, s);
      const step = Math.min(8_000, 1_000 * 2 ** (n - 1));
      assert.ok(b >= step / 2 && b <= step, `failure ${n}: ${b} within [${step / 2}, ${step}]`);
    }
  });
});

describe('WebhookDeliverer', () => {
  let db: Db;
  let clock: TestClock;
  let seq = 0;

  before(async () => {
    db = await openEmbedded(undefined);
    await migrate(db);
  });
  after(async () => {
    await db.close();
  });
  beforeEach(async () => {
    await db.query('DELETE FROM webhook_deliveries');
    clock = new TestClock(T0);
  });

  async function record(webhook: Receiver, type: 'firing' | 'resolved' = 'firing'): Promise<string> {
    const alert = alertRow(`alert-${++seq}`, clock.now());
    const ev = await db.transaction((tx) => recordEvent(tx, type, alert, { name: 'hot', webhook }, clock.now()));
    return ev.event_id;
  }

  async function row(eventId: string): Promise<DeliveryRow> {
    const r = await db.query<DeliveryRow>('SELECT event_id, attempts, next_attempt_at, delivered_at, gave_up_at, last_status, last_error FROM webhook_deliveries WHERE event_id = $1', [eventId]);
    assert.ok(r.rows[0], `a delivery row for ${eventId}`);
    return r.rows[0];
  }

  const deliverer = (f: typeof fetch, over: Partial<WebhookSettings> = {}): WebhookDeliverer =>
    new WebhookDeliverer({ db, settings: { ...SETTINGS, ...over }, log, clock, fetch: f, random: () => 0.5 });

  it('a 2xx marks the delivery delivered; the POST carries the stored body, its event id and type, and a signature that verifies', async () => {
    const { fetch, sent } = fakeFetch(() => new Response('thanks', { status: 202 }));
    const id = await record({ url: 'http://hooks.test/a', secret: 's3cret' });
    const d = deliverer(fetch);
    assert.equal(await d.runOnce(), 1);
    const r = await row(id);
    assert.equal(r.delivered_at?.getTime(), T0);
    assert.equal(r.attempts, 1);
    assert.equal(r.last_status, 202);
    assert.equal(sent.length, 1);
    const req = sent[0]!;
    const stored = (await db.query<{ body: string }>('SELECT body FROM webhook_deliveries WHERE event_id = $1', [id])).rows[0]!.body;
    assert.equal(req.body, stored);
    assert.equal(req.url, 'http://hooks.test/a');
    assert.equal(req.redirect, 'manual');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-fieldline-event-id'], id);
    assert.equal(req.headers['x-fieldline-event-type'], 'firing');
    assert.equal(req.headers['x-fieldline-timestamp'], String(T0 / 1000));
    assert.ok(verifySignature('s3cret', req.body, req.headers['x-fieldline-timestamp'], req.headers['x-fieldline-signature'], T0 / 1000));
    assert.equal(await d.runOnce(), 0, 'a delivered row is not sent again');
    assert.deepEqual(d.tallies(), { stage: 'alerts-webhook', received: 1, sent: 1, dropped: { gave_up: 0 }, errors: 0 });
  });

  it('a receiver without a secret gets no timestamp or signature headers', async () => {
    const { fetch, sent } = fakeFetch(() => new Response(null, { status: 204 }));
    await record({ url: 'http://hooks.test/plain' });
    await deliverer(fetch).runOnce();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.headers['x-fieldline-signature'], undefined);
    assert.equal(sent[0]!.headers['x-fieldline-timestamp'], undefined);
  });

  it('a receiver failing 3 times then answering 200 gets the event once delivered, each retry after its backoff', async () => {
    const { fetch, sent } = fakeFetch((_, n) => new Response(n <= 3 ? 'busy' : 'ok', { status: n <= 3 ? 500 : 200 }));
    const id = await record({ url: 'http://hooks.test/flaky', secret: 'k' });
    const d = deliverer(fetch);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      assert.equal(await d.runOnce(), 1, `attempt ${attempt}`);
      const r = await row(id);
      assert.equal(r.attempts, attempt);
      assert.equal(r.last_status, 500);
      assert.equal(r.last_error, 'HTTP 500: busy');
      assert.equal(r.delivered_at, null);
      waits.push(r.next_attempt_at.getTime() - clock.now());
      clock.t = r.next_attempt_at.getTime() - 1;
      assert.equal(await d.runOnce(), 0, 'not due before next_attempt_at');
      clock.t++;
    }
    // random() = 0.5: three quarters of each step.
    assert.deepEqual(waits, [750, 1_500, 3_000]);
    assert.equal(await d.runOnce(), 1);
    const r = await row(id);
    assert.equal(r.delivered_at?.getTime(), clock.now());
    assert.equal(r.attempts, 4);
    assert.equal(sent.length, 4);
    assert.equal(sent.filter((s) => s.headers['x-fieldline-event-id'] === id).length, 4);
    clock.t += 3_600_000;
    assert.equal(await d.runOnce(), 0);
    assert.deepEqual(d.outcomes(), { delivered: 1, failed: 3, gave_up: 0 });
  });

  it('gives up once giveUpAfterMs has passed since the event, after a last try at the deadline', async () => {
    const { fetch, sent } = fakeFetch(() => new Response('down', { status: 503 }));
    const id = await record({ url: 'http://hooks.test/down' });
    const d = deliverer(fetch, { giveUpAfterMs: 20_000 });
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await row(id);
      if (r.gave_up_at) break;
      clock.t = Math.max(clock.t, r.next_attempt_at.getTime());
      times.push(clock.t - T0);
      assert.equal(await d.runOnce(), 1);
    }
    const r = await row(id);
    assert.equal(r.gave_up_at?.getTime(), T0 + 20_000);
    assert.equal(r.delivered_at, null);
    assert.equal(r.last_status, 503);
    // 750, 1500, 3000, 6000 and then the 8000 cap (random 0.5: 6000) until the deadline.
    assert.deepEqual(times, [0, 750, 2_250, 5_250, 11_250, 17_250, 20_000]);
    assert.equal(sent.length, times.length);
    clock.t += 3_600_000;
    assert.equal(await d.runOnce(), 0, 'a given-up delivery is not tried again');
    assert.deepEqual(d.tallies().dropped, { gave_up: 1 });
  });

  it('410 Gone gives up at once; a redirect is a failure that is retried, not followed', async () => {
    const { fetch } = fakeFetch((req) =>
      req.url.endsWith('/gone') ? new Response('bye', { status: 410 }) : new Response(null, { status: 302, headers: { location: 'http://elsewhere.test/' } }),
    );
    const gone = await record({ url: 'http://hooks.test/gone' });
    const moved = await record({ url: 'http://hooks.test/moved' });
    await deliverer(fetch).runOnce();
    const g = await row(gone);
    assert.equal(g.gave_up_at?.getTime(), T0);
    assert.equal(g.last_status, 410);
    const m = await row(moved);
    assert.equal(m.gave_up_at, null);
    assert.equal(m.last_status, 302);
    assert.equal(m.next_attempt_at.getTime(), T0 + 750);
  });

  it('no answer within timeoutMs, or a refused connection, is a failure with the reason kept', async () => {
    const { fetch } = fakeFetch((req) => {
      if (req.url.endsWith('/slow')) return new Promise<Response>(() => {});
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
    });
    const slow = await record({ url: 'http://hooks.test/slow' });
    const refused = await record({ url: 'http://hooks.test/refused' });
    await deliverer(fetch, { timeoutMs: 100 }).runOnce();
    const s = await row(slow);
    assert.equal(s.attempts, 1);
    assert.equal(s.last_status, null);
    assert.equal(s.last_error, 'no answer within 100 ms');
    const r = await row(refused);
    assert.equal(r.last_error, 'ECONNREFUSED');
    assert.equal(r.delivered_at, null);
  });

  it('a slow receiver holds at most perUrlConcurrency of the concurrency slots; others are delivered meanwhile', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let slowNow = 0;
    let slowMax = 0;
    let allNow = 0;
    let allMax = 0;
    const { fetch, sent } = fakeFetch(async (req) => {
      allMax = Math.max(allMax, ++allNow);
      try {
        if (req.url.endsWith('/slow')) {
          slowMax = Math.max(slowMax, ++slowNow);
          await gate;
          slowNow--;
        }
        return new Response('ok', { status: 200 });
      } finally {
        allNow--;
      }
    });
    const slowIds: string[] = [];
    const fastIds: string[] = [];
    for (let i = 0; i < 5; i++) slowIds.push(await record({ url: 'http://hooks.test/slow' }));
    for (let i = 0; i < 6; i++) fastIds.push(await record({ url: `http://hooks.test/fast-${i % 3}` }));
    const d = deliverer(fetch, { timeoutMs: 30_000 });
    d.start();
    try {
      for (let i = 0; i < 400; i++) {
        const delivered = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivered_at IS NOT NULL')).rows[0]!.n;
        if (delivered === fastIds.length) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const id of fastIds) assert.ok((await row(id)).delivered_at, `fast delivery ${id} done while the slow receiver hangs`);
      assert.equal(slowMax, 2, 'two in flight to the slow receiver');
      assert.equal(sent.filter((s) => s.url.endsWith('/slow')).length, 2, 'the other slow deliveries wait their turn');
      release();
      for (let i = 0; i < 400; i++) {
        const left = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries WHERE delivered_at IS NULL')).rows[0]!.n;
        if (left === 0) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const id of slowIds) assert.ok((await row(id)).delivered_at, `slow delivery ${id} done once released`);
    } finally {
      release();
      await d.stop();
    }
    assert.ok(allMax <= 4, `at most concurrency (4) requests at once, saw ${allMax}`);
    assert.equal(sent.length, 11, 'each delivery sent once');
  });

  it('deletes delivered and given-up rows once retentionMs has passed since they finished', async () => {
    const { fetch } = fakeFetch((req) => new Response(null, { status: req.url.endsWith('/gone') ? 410 : 200 }));
    const kept = await record({ url: 'http://hooks.test/later' });
    await record({ url: 'http://hooks.test/ok' });
    await record({ url: 'http://hooks.test/gone' });
    await db.query('UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE event_id = $1', [kept, new Date(T0 + 30 * 86_400_000)]);
    const d = deliverer(fetch, { retentionMs: 86_400_000 });
    await d.runOnce();
    clock.t = T0 + 86_400_000 + 1;
    d.start();
    await d.stop();
    const left = (await db.query<{ event_id: string }>('SELECT event_id FROM webhook_deliveries')).rows.map((r) => r.event_id);
    assert.deepEqual(left, [kept], 'the pending one stays');
    assert.equal(d.stats.pruned, 2);
  });
});
