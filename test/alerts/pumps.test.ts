// The two outbox pumps of alerting against real services: the relay (alert_events → iot.alerts)
// with a real Kafka broker, the webhook deliverer with a real HTTP receiver, on the embedded
// TimescaleDB and on a real PostgreSQL 15 (several processes' worth of pumps sharing one database).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AlertEvent } from '../../cloud-sink/src/alerts/events.js';
import { EventRelay } from '../../cloud-sink/src/alerts/relay.js';
import { verifySignature, WebhookDeliverer, type WebhookSettings } from '../../cloud-sink/src/alerts/webhook.js';
import { openEmbedded, openPostgres, type Db } from '../../cloud-sink/src/store/db.js';
import { migrate } from '../../cloud-sink/src/store/schema.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { freePort, waitUntil } from '../../devstack/net.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { readTopic, type TopicMessage } from '../fleet/support.js';
import { HookReceiver, record, undelivered, unpublished } from './pumps-support.js';

const log = pino({ level: 'silent' });
const SECRET = 'whsec_pumps_test';

const HOOKS: WebhookSettings = {
  intervalMs: 50,
  timeoutMs: 2_000,
  minBackoffMs: 100,
  maxBackoffMs: 500,
  giveUpAfterMs: 10 * 60_000,
  concurrency: 4,
  perUrlConcurrency: 2,
  retentionMs: 7 * 86_400_000,
};

function relay(db: Db, kafka: KafkaBroker, topic: string, intervalMs: number): EventRelay {
  return new EventRelay({
    db, topic, intervalMs, log, retentionMs: 7 * 86_400_000,
    kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 10_000, rdkafka: {} },
  });
}

/** Event ids per key (alert id) in partition order, each id at its first appearance only. */
function idsByAlert(messages: readonly TopicMessage[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const m of messages) {
    const id = m.headers.get('event-id') ?? '';
    if (seen.has(id)) continue;
    seen.add(id);
    out.set(m.key, [...(out.get(m.key) ?? []), id]);
  }
  return out;
}

function expectedByAlert(events: readonly (readonly [string, AlertEvent])[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [alertId, ev] of events) out.set(alertId, [...(out.get(alertId) ?? []), ev.event_id]);
  return out;
}

describe('alert pumps on the embedded database with a real Kafka broker and HTTP receiver', () => {
  const TOPIC = 'iot.alerts';
  let kafka: KafkaBroker;
  let db: Db;
  let pump: EventRelay;

  before(async () => {
    kafka = await startKafka({ topics: [{ name: TOPIC, partitions: 3 }] });
    db = await openEmbedded(undefined);
    await migrate(db);
    // A long interval: in the first test only poke() makes the relay publish promptly.
    pump = relay(db, kafka, TOPIC, 60_000);
    pump.start();
  });
  after(async () => {
    await pump?.stop();
    await db?.close();
    await kafka?.destroy();
  });

  it('publishes each recorded event once poked, in order per alert, key alert_id, the stored payload and the headers', async (t) => {
    // Wait for the relay's first (empty) run, so the pokes below are what publishes.
    await waitUntil(async () => pump.stats.runs > 0 && pump.stats.state === 'idle', { what: 'the relay idle', timeoutMs: 10_000, intervalMs: 20 });
    const events: (readonly [string, AlertEvent])[] = [];
    for (const type of ['firing', 'acknowledged', 'resolved'] as const) {
      for (const alertId of ['a-1', 'a-2', 'a-3']) {
        events.push([alertId, await record(db, alertId, type)]);
        pump.poke();
      }
    }
    await waitUntil(async () => (await unpublished(db)) === 0, { what: 'every event published', timeoutMs: 20_000, intervalMs: 20 });
    const messages = await readTopic(kafka.bootstrap, TOPIC);
    assert.equal(messages.length, events.length, 'each event once on the topic');
    assert.deepEqual(idsByAlert(messages), expectedByAlert(events));
    const stored = new Map(
      (await db.query<{ event_id: string; payload: string; type: string }>('SELECT event_id, type, payload::text AS payload FROM alert_events')).rows.map((r) => [r.event_id, r]),
    );
    const recorded = new Map(events.map(([, ev]) => [ev.event_id, ev]));
    for (const m of messages) {
      const id = m.headers.get('event-id')!;
      const row = stored.get(id);
      assert.ok(row, `message ${id} is a recorded event`);
      assert.equal(m.value.toString('utf8'), row.payload, 'value: the payload exactly as stored');
      assert.deepEqual(JSON.parse(m.value.toString('utf8')), recorded.get(id), 'the event recordEvent returned');
      assert.equal(m.headers.get('event-type'), row.type);
      assert.equal(m.headers.get('content-type'), 'application/json');
    }
    // All of one alert's events share a partition (the key), so their order above is Kafka's.
    for (const alertId of ['a-1', 'a-2', 'a-3']) assert.equal(new Set(messages.filter((m) => m.key === alertId).map((m) => m.partition)).size, 1);
    assert.deepEqual(pump.tallies(), { stage: 'alerts-relay', received: 9, sent: 9, dropped: {}, errors: 0 });
    // Reported, not asserted (timing under load): the first batch includes the producer's first
    // connection to the partition leaders; the events after it show the steady latency.
    const lagsOf = async (ids: string[]): Promise<number[]> =>
      (await db.query<{ ms: number }>('SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM alert_events WHERE event_id = ANY($1::text[]) ORDER BY seq', [ids])).rows.map((r) => Math.round(Number(r.ms)));
    t.diagnostic(`record to confirmed publish, first batch, ms: ${(await lagsOf(events.map(([, e]) => e.event_id))).join(' ')}`);
    const later: string[] = [];
    for (let i = 0; i < 3; i++) {
      later.push((await record(db, 'a-1', 'acknowledged')).event_id);
      pump.poke();
      await waitUntil(async () => (await unpublished(db)) === 0, { what: 'the event published', timeoutMs: 20_000, intervalMs: 10 });
    }
    t.diagnostic(`record to confirmed publish, one at a time afterwards, ms: ${(await lagsOf(later)).join(' ')}`);
  });

  it('events recorded while Kafka is stopped stay in the outbox and are published, in order, once it is back', async () => {
    const earlierCount = (await readTopic(kafka.bootstrap, TOPIC)).length;
    await kafka.stop();
    const events: (readonly [string, AlertEvent])[] = [];
    try {
      for (const type of ['firing', 'acknowledged', 'resolved'] as const) {
        for (const alertId of ['b-1', 'b-2']) {
          events.push([alertId, await record(db, alertId, type)]);
          pump.poke();
        }
      }
      await waitUntil(async () => pump.stats.errors >= 1, { what: 'the relay failing while Kafka is down', timeoutMs: 60_000, intervalMs: 50 });
      assert.equal(await unpublished(db), events.length, 'nothing marked published while Kafka is down');
      assert.equal(pump.health().state, 'failing');
    } finally {
      await kafka.start();
    }
    await waitUntil(async () => (await unpublished(db)) === 0, { what: 'the backlog published after Kafka came back', timeoutMs: 60_000, intervalMs: 50 });
    const messages = (await readTopic(kafka.bootstrap, TOPIC)).filter((m) => m.key.startsWith('b-'));
    assert.ok(messages.length >= events.length);
    assert.deepEqual(idsByAlert(messages), expectedByAlert(events), 'every event, in order per alert');
    assert.ok((await readTopic(kafka.bootstrap, TOPIC)).length >= earlierCount + events.length);
    assert.equal(pump.health().state, 'idle');
  });

  it('a receiver that answers 500 twice, then is gone from its port, then listens again gets every event exactly once, signed', async () => {
    const port = await freePort({ stable: true });
    let closed = false;
    const receiver = new HookReceiver(port, async (_, n) => {
      if (closed) return 0;
      if (n > 2) return 200;
      if (n === 2) {
        closed = true;
        // After the answer is written: the port is unbound and kept-alive connections dropped.
        setImmediate(() => void receiver.close());
      }
      return 500;
    });
    await receiver.listen();
    const hooks = new WebhookDeliverer({ db, settings: HOOKS, log });
    hooks.start();
    try {
      const ids: string[] = [];
      for (const alertId of ['w-1', 'w-2', 'w-3', 'w-4', 'w-5']) {
        ids.push((await record(db, alertId, 'firing', { url: `${receiver.url}/hooks/${alertId}`, secret: SECRET })).event_id);
        hooks.poke();
      }
      // The outage: every delivery has failed against the closed port at least once.
      await waitUntil(
        async () => {
          const r = await db.query<{ n: number | string }>(
            `SELECT count(*) AS n FROM webhook_deliveries WHERE event_id = ANY($1::text[]) AND last_status IS NULL AND last_error IS NOT NULL`, [ids],
          );
          return Number(r.rows[0]!.n) === ids.length;
        },
        { what: 'every delivery refused by the closed port', timeoutMs: 30_000, intervalMs: 50 },
      );
      assert.ok(receiver.received.filter((r) => r.status === 500).length === 2, 'two answered 500 before the receiver went away');
      closed = false;
      receiver.setAnswer(() => 200);
      await receiver.listen();
      await waitUntil(async () => (await undelivered(db)) === 0, { what: 'every delivery done once the receiver is back', timeoutMs: 30_000, intervalMs: 50 });
      const delivered = receiver.delivered;
      assert.deepEqual(delivered.map((r) => r.headers['x-fieldline-event-id']).sort(), [...ids].sort(), 'each event exactly once');
      for (const r of delivered) {
        assert.ok(verifySignature(SECRET, r.body, r.headers['x-fieldline-timestamp'], r.headers['x-fieldline-signature'], r.atS), `signature of ${r.headers['x-fieldline-event-id']}`);
        assert.equal(r.headers['content-type'], 'application/json');
        assert.equal(r.headers['x-fieldline-event-type'], 'firing');
        assert.equal((JSON.parse(r.body) as AlertEvent).event_id, r.headers['x-fieldline-event-id']);
      }
      const rows = (await db.query<{ attempts: number }>('SELECT attempts FROM webhook_deliveries WHERE event_id = ANY($1::text[])', [ids])).rows;
      assert.ok(rows.every((r) => r.attempts >= 2), 'every delivery was retried');
      assert.equal(hooks.stats.delivered, ids.length);
      assert.equal(hooks.stats.gaveUp, 0);
    } finally {
      await hooks.stop();
      await receiver.close();
    }
  });
});

describe('alert pumps sharing one PostgreSQL 15 database, as several sink processes do', () => {
  const TOPIC = 'pg.alerts';
  let kafka: KafkaBroker;
  let server: PgServer;
  let db: Db;

  before(async () => {
    kafka = await startKafka({ topics: [{ name: TOPIC, partitions: 3 }] });
    server = await startPostgres();
    db = await openPostgres(await server.createDatabase('pumps'), 8);
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    await server?.destroy();
    await kafka?.destroy();
  });

  it('two deliverers on one database deliver each of 40 events exactly once (SKIP LOCKED claims with a lease)', async () => {
    const receiver = new HookReceiver(await freePort(), async () => {
      await new Promise((r) => setTimeout(r, 20));
      return 200;
    });
    await receiver.listen();
    const one = new WebhookDeliverer({ db, settings: HOOKS, log });
    const two = new WebhookDeliverer({ db, settings: HOOKS, log });
    one.start();
    two.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        ids.push((await record(db, `p-${i}`, 'firing', { url: `${receiver.url}/h${i % 4}`, secret: SECRET })).event_id);
        one.poke();
        two.poke();
      }
      await waitUntil(async () => (await undelivered(db)) === 0, { what: 'every delivery done', timeoutMs: 30_000, intervalMs: 50 });
      assert.deepEqual(receiver.received.map((r) => r.headers['x-fieldline-event-id']).sort(), [...ids].sort(), 'each event sent exactly once');
      assert.equal(one.stats.delivered + two.stats.delivered, ids.length);
      assert.ok(one.stats.delivered > 0 && two.stats.delivered > 0, `both delivered (${one.stats.delivered} and ${two.stats.delivered})`);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
      await receiver.close();
    }
  });

  it('two relays on one database publish each event once, in order per alert (the advisory lock)', async () => {
    // The deliverer test's events are in the outbox too, unpublished: they go out with these.
    const earlier = await unpublished(db);
    const one = relay(db, kafka, TOPIC, 20);
    const two = relay(db, kafka, TOPIC, 20);
    one.start();
    two.start();
    try {
      const events: (readonly [string, AlertEvent])[] = [];
      for (const type of ['firing', 'acknowledged', 'resolved'] as const) {
        for (let i = 0; i < 8; i++) {
          events.push([`r-${i}`, await record(db, `r-${i}`, type)]);
          one.poke();
          two.poke();
        }
      }
      await waitUntil(async () => (await unpublished(db)) === 0, { what: 'every event published', timeoutMs: 30_000, intervalMs: 50 });
      const messages = await readTopic(kafka.bootstrap, TOPIC);
      assert.equal(messages.length, earlier + events.length, 'no event published twice');
      assert.equal(new Set(messages.map((m) => m.headers.get('event-id'))).size, messages.length);
      assert.deepEqual(idsByAlert(messages.filter((m) => m.key.startsWith('r-'))), expectedByAlert(events));
      assert.equal(one.stats.published + two.stats.published, earlier + events.length);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});
