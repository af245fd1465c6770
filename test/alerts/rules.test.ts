// Rules from the API to the evaluator's table through a real Kafka broker (KRaft) and the compacted
// iot.rules topic, with the embedded TimescaleDB as the API's database (issue 11).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { StageCounters } from '../../common/src/metrics.js';
import type { Rule } from '../../cloud-sink/src/alerts/rule.js';
import { RuleBook } from '../../cloud-sink/src/alerts/rules-publisher.js';
import { RulesTable } from '../../cloud-sink/src/alerts/rules-table.js';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { Cloud } from '../../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { buildApi } from '../../cloud-sink/src/api/server.js';
import { openEmbedded, type Db } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { waitUntil } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { readTopic, TestProducer } from '../fleet/support.js';

const TOPIC = 'iot.rules';
const log = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
const HOOK_SECRET = 'a-webhook-secret-of-some-length';

const body = (name: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  kind: 'threshold',
  target: { device_pattern: 'pump-*', metric: 'temperature' },
  params: { op: 'above', value: 80, clear: 75 },
  webhook: { url: 'https://hooks.example/fieldline', secret: HOOK_SECRET },
  ...over,
});

describe('rules: API → database → iot.rules → RulesTable', () => {
  let kafka: KafkaBroker;
  let db: Db;
  let store: Store;
  let book: RuleBook;
  let app: ReturnType<typeof buildApi>;
  let live: RulesTable;
  const tables: RulesTable[] = [];
  const heard: [string, number | null][] = [];
  let token: string;
  const counters = new StageCounters();

  const settings = (): { brokers: string; sessionTimeoutMs: number; rdkafka: Record<string, string> } => ({ brokers: kafka.bootstrap, sessionTimeoutMs: 10_000, rdkafka: {} });
  const newTable = (): RulesTable => {
    const t = new RulesTable({ kafka: settings(), topic: TOPIC, log });
    tables.push(t);
    t.start();
    return t;
  };

  before(async () => {
    kafka = await startKafka();
    await kafka.createTopics(FIELDLINE_TOPICS.filter((t) => t.name === TOPIC));
    db = await openEmbedded(undefined);
    store = new Store(db);
    await store.migrate();
    // Short delivery timeout and sync interval, so the outage test's failed runs and the recovery
    // come within seconds.
    book = new RuleBook({ db, kafka: settings(), topic: TOPIC, syncMs: 300, deliveryTimeoutMs: 3_000, log, counters });
    book.start();
    const auth = new TokenAuthority('a-test-secret-that-is-long-enough-for-hs256');
    token = await auth.issue({ subject: 'ops', role: 'operator', ttlSeconds: 3600 });
    app = buildApi({ store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '', alerts: { rules: book, db } });
    live = newTable();
    live.onChange((r, id) => heard.push([id, r ? r.version : null]));
    await live.ready();
  });

  after(async () => {
    for (const t of tables) await t.stop();
    await app?.close();
    await book?.stop();
    await store?.close();
    await kafka?.destroy();
  });

  const call = async (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, json: res.body ? (res.json() as Record<string, unknown>) : {} };
  };

  const publishedVersion = async (id: string): Promise<number> =>
    Number((await db.query<{ p: number }>('SELECT published_version AS p FROM alert_rules WHERE id = $1', [id])).rows[0]?.p);

  const tableHas = (t: RulesTable, id: string, version: number | null, what: string) =>
    waitUntil(async () => (version === null ? !t.all().has(id) : t.get(id)?.version === version), { what, timeoutMs: 60_000 });

  /** What the database says the evaluators should know: every live rule by id, with its version. */
  const expected = async (): Promise<Map<string, Rule>> => new Map((await book.list()).map((r) => [r.id, r]));

  it('a rule created through the API reaches a separately started RulesTable with version 1, secret included, and is marked published', async () => {
    const res = await call('POST', '/v1/rules', body('pumps hot'));
    assert.equal(res.status, 201);
    const id = String(res.json.id);
    await tableHas(live, id, 1, 'the new rule in the live table');
    assert.deepEqual(live.get(id), (await expected()).get(id));
    assert.equal(live.get(id)?.webhook?.secret, HOOK_SECRET, 'the evaluator gets the secret it signs with');
    assert.equal(await publishedVersion(id), 1);
    const onTopic = (await readTopic(kafka.bootstrap, TOPIC)).filter((m) => m.key === id);
    assert.equal(onTopic.length, 1);
    assert.equal(onTopic[0]!.headers.get('rule-version'), '1');
    assert.deepEqual(JSON.parse(onTopic[0]!.value.toString('utf8')), { ...live.get(id) });
  });

  it('a PUT bumps the version in the table and tells the listeners; a DELETE removes the rule with a versioned tombstone', async () => {
    const id = String((await call('POST', '/v1/rules', body('to change'))).json.id);
    await tableHas(live, id, 1, 'the rule');
    const before = live.version;
    const put = await call('PUT', `/v1/rules/${id}`, body('changed', { params: { op: 'above', value: 95 }, severity: 'critical' }));
    assert.equal(put.status, 200);
    await tableHas(live, id, 2, 'version 2');
    assert.equal(live.get(id)?.name, 'changed');
    assert.deepEqual(live.get(id)?.params, { op: 'above', value: 95, for_s: 0 });
    assert.ok(live.version > before, 'the table version moved');

    assert.equal((await call('DELETE', `/v1/rules/${id}`)).status, 204);
    await tableHas(live, id, null, 'the rule gone');
    assert.deepEqual(heard.filter(([k]) => k === id), [[id, 1], [id, 2], [id, null]]);
    assert.equal(await publishedVersion(id), 3);
    const last = (await readTopic(kafka.bootstrap, TOPIC)).filter((m) => m.key === id).pop()!;
    assert.equal(last.value.length, 0, 'a tombstone');
    assert.equal(last.headers.get('rule-version'), '3');
  });

  it('a RulesTable started later builds the same table from the topic, complete once ready() resolves', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(String((await call('POST', '/v1/rules', body(`later-${i}`, { enabled: i !== 2 }))).json.id));
    await call('PUT', `/v1/rules/${ids[0]!}`, body('later-0 edited'));
    await call('DELETE', `/v1/rules/${ids[1]!}`);
    await book.syncNow();
    const fresh = newTable();
    await fresh.ready();
    // No waiting beyond ready(): the evaluator judges readings from this moment on.
    const want = await expected();
    assert.deepEqual(new Map([...fresh.all()].sort()), new Map([...want].sort()));
    assert.deepEqual(new Map([...live.all()].sort()), new Map([...want].sort()));
    assert.equal(fresh.get(ids[0]!)?.version, 2);
    assert.equal(fresh.all().has(ids[1]!), false);
    assert.equal(fresh.rules().has(ids[2]!), false, 'rules() leaves the disabled rule out');
    assert.equal(fresh.all().get(ids[2]!)?.enabled, false);
    assert.equal(fresh.stats.invalid, 0);
  });

  it('with Kafka down the API still answers 201 and 200; once Kafka is back the sync publishes both changes and the live table gets them', async () => {
    const kept = String((await call('POST', '/v1/rules', body('before the outage'))).json.id);
    await tableHas(live, kept, 1, 'the rule made before the outage');
    await kafka.stop();
    const created = await call('POST', '/v1/rules', body('made while Kafka was down'));
    assert.equal(created.status, 201);
    const id = String(created.json.id);
    const changed = await call('PUT', `/v1/rules/${kept}`, body('changed while Kafka was down'));
    assert.equal(changed.status, 200);
    assert.equal(await publishedVersion(id), 0, 'in the database, not yet on the topic');
    assert.equal(await publishedVersion(kept), 1);
    await waitUntil(async () => book.stats.state === 'down', { what: 'the publisher noticing Kafka is gone', timeoutMs: 60_000 });
    assert.equal(live.get(id), undefined);

    await kafka.start();
    await tableHas(live, id, 1, 'the rule made during the outage, in the live table after Kafka returned');
    await tableHas(live, kept, 2, 'the change made during the outage');
    assert.equal(live.get(kept)?.name, 'changed while Kafka was down');
    await waitUntil(async () => (await publishedVersion(id)) === 1 && (await publishedVersion(kept)) === 2, { what: 'both marked published', timeoutMs: 30_000 });
    assert.ok(book.stats.failedRuns > 0);
    assert.equal(book.stats.state, 'up');
    assert.ok(counters.get('rules_publish', 'errors') >= 1, 'failed runs on /metrics');
    assert.ok(counters.get('rules_publish', 'sent') > 0 && counters.get('rules_publish', 'received') > 0, 'changes and deliveries counted');

    // The table still follows the topic after the outage, and a fresh one agrees with it.
    const after = String((await call('POST', '/v1/rules', body('after the outage'))).json.id);
    await tableHas(live, after, 1, 'a rule made after the outage');
    const fresh = newTable();
    await fresh.ready();
    assert.deepEqual(new Map([...fresh.all()].sort()), new Map([...(await expected())].sort()));
  });

  it('fieldline-cloud in the api role publishes rules made over HTTP, and shows the publisher on /healthz and /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-rules-api-'));
    const cfg = cloudConfigSchema.parse({ dataDir: dir, kafka: { brokers: kafka.bootstrap }, api: { host: '127.0.0.1', port: 0 }, alerts: { rulesSyncMs: 500 } });
    const cloud = new Cloud(cfg, 'api', log);
    try {
      await cloud.start();
      const base = `http://127.0.0.1:${cloud.apiPort}`;
      const auth = { authorization: `Bearer ${await cloud.auth.issue({ subject: 'http', role: 'operator', ttlSeconds: 600 })}` };
      const res = await fetch(`${base}/v1/rules`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body('over http')) });
      assert.equal(res.status, 201);
      const id = String(((await res.json()) as { id: string }).id);
      await tableHas(live, id, 1, 'the rule made over HTTP in the live table');
      const ack = await fetch(`${base}/v1/alerts/a_none/ack`, { method: 'POST', headers: auth });
      assert.equal(ack.status, 404, 'an ack without a body reaches the route');
      const health = (await (await fetch(`${base}/healthz`)).json()) as { rules: { state: string; published: number } };
      assert.equal(health.rules.state, 'up');
      assert.ok(health.rules.published >= 1);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^fieldline_cloud_sent_total\{stage="rules_publish"\} [1-9]/m);
      assert.match(metrics, /^fieldline_cloud_received_total\{stage="rules_publish"\} 1$/m);
    } finally {
      await cloud.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a message on the topic that is no rule is counted and skipped; the tables keep working', async () => {
    const producer = await TestProducer.connect(kafka.bootstrap);
    try {
      await producer.send(TOPIC, [
        { key: 'r_garbage', value: Buffer.from('{this is not json') },
        { key: 'r_garbage', value: Buffer.from(JSON.stringify({ id: 'r_garbage', name: 'x', kind: 'nonsense', version: 1 })) },
      ]);
    } finally {
      await producer.close();
    }
    await waitUntil(async () => live.stats.invalid >= 2, { what: 'the live table counting both bad messages', timeoutMs: 30_000 });
    assert.equal(live.all().has('r_garbage'), false);
    const id = String((await call('POST', '/v1/rules', body('after the garbage'))).json.id);
    await tableHas(live, id, 1, 'a rule after the garbage');
    const fresh = newTable();
    await fresh.ready();
    assert.equal(fresh.stats.invalid, 2);
    assert.equal(fresh.get(id)?.version, 1);
  });
});
