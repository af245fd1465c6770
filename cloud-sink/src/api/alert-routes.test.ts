// /v1/rules and /v1/alerts against the embedded TimescaleDB (in memory), with real tokens. The rule
// book's Kafka side is not started here (test/alerts/rules.test.ts runs it against a broker): every
// change must still land in the database, marked unpublished.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { targetKey } from '../alerts/rule.js';
import { RuleBook } from '../alerts/rules-publisher.js';
import { openEmbedded, type Db } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority, type Scope } from './auth.js';
import { buildApi } from './server.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const HOOK_SECRET = 'hook-secret-0123456789';
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

const threshold = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'pump too hot',
  kind: 'threshold',
  target: { device: 'pump-1', metric: 'temperature' },
  params: { op: 'above', value: 80, clear: 75 },
  severity: 'critical',
  webhook: { url: 'https://hooks.example/fieldline', secret: HOOK_SECRET },
  ...over,
});

interface ErrorBody {
  error: { code: string; message: string };
}

describe('rules and alerts API', () => {
  let db: Db;
  let store: Store;
  let rules: RuleBook;
  let app: ReturnType<typeof buildApi>;
  const auth = new TokenAuthority(SECRET);
  let viewer: string;
  let operator: string;
  let telemetryOnly: string;
  let nowMs = T0 + 3_600_000;

  before(async () => {
    db = await openEmbedded(undefined);
    store = new Store(db);
    await store.migrate();
    rules = new RuleBook({ db, kafka: { brokers: '127.0.0.1:1', sessionTimeoutMs: 10_000, rdkafka: {} }, topic: 'iot.rules', syncMs: 60_000, log: pino({ level: 'silent' }), now: () => nowMs });
    app = buildApi({ store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '', alerts: { rules, db, now: () => nowMs } });
    viewer = await auth.issue({ subject: 'vera', role: 'viewer', ttlSeconds: 600 });
    operator = await auth.issue({ subject: 'otto', role: 'operator', ttlSeconds: 600 });
    telemetryOnly = await auth.issue({ subject: 't', scopes: ['read:telemetry' as Scope], ttlSeconds: 600 });
  });
  after(async () => {
    await app.close();
    await rules.stop();
    await store.close();
  });

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, body?: unknown) =>
    app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body === undefined ? {} : { payload: body as object }) });

  async function create(body: Record<string, unknown> = threshold()): Promise<Record<string, unknown>> {
    const res = await call('POST', '/v1/rules', operator, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as Record<string, unknown>;
  }

  async function row(id: string): Promise<{ version: number; published_version: number; deleted_at: Date | null; enabled: boolean; rule: Record<string, unknown> }> {
    const r = await db.query<{ version: number; published_version: number; deleted_at: Date | null; enabled: boolean; rule: Record<string, unknown> }>(
      'SELECT version, published_version, deleted_at, enabled, rule FROM alert_rules WHERE id = $1',
      [id],
    );
    assert.ok(r.rows[0], `row ${id}`);
    return r.rows[0];
  }

  let alertSeq = 0;
  /** An alert as the evaluator writes one. */
  async function insertAlert(ruleId: string, o: { state?: 'firing' | 'resolved'; startedMs?: number; device?: string; severity?: string; gateway?: string } = {}): Promise<string> {
    const id = `a_${String(++alertSeq).padStart(4, '0')}`;
    const device = o.device ?? `dev-${alertSeq}`;
    const started = new Date(o.startedMs ?? T0 + alertSeq * 1000);
    await db.query(
      `INSERT INTO alerts (id, rule_id, target_key, gateway_id, device_id, metric, state, severity, value, message, started_at, raised_at, resolved_at)
       VALUES ($1, $2, $3, $4, $5, 'temperature', $6, $7, 81.5, 'temperature 81.5 above 80', $8, $8, $9)`,
      [id, ruleId, targetKey({ gateway: o.gateway ?? 'gw-1', device, metric: 'temperature' }), o.gateway ?? 'gw-1', device, o.state ?? 'firing', o.severity ?? 'critical', started,
        o.state === 'resolved' ? new Date(started.getTime() + 60_000) : null],
    );
    return id;
  }

  beforeEach(() => {
    nowMs += 1000;
  });

  describe('rules', () => {
    it('POST makes a rule with a server id and version 1, answers 201 with its location, and never shows the webhook secret', async () => {
      const res = await call('POST', '/v1/rules', operator, threshold());
      assert.equal(res.statusCode, 201);
      const body = res.json() as Record<string, unknown>;
      assert.match(String(body.id), /^r_[a-z2-7]{12}$/);
      assert.equal(res.headers.location, `/v1/rules/${String(body.id)}`);
      assert.deepEqual(body, {
        id: body.id, name: 'pump too hot', kind: 'threshold', target: { device: 'pump-1', metric: 'temperature' },
        params: { op: 'above', value: 80, clear: 75, for_s: 0 }, severity: 'critical', enabled: true, version: 1,
        webhook: { url: 'https://hooks.example/fieldline', has_secret: true },
      });
      assert.equal(res.body.includes(HOOK_SECRET), false);
      const stored = await row(String(body.id));
      assert.equal(stored.version, 1);
      assert.equal(stored.published_version, 0, 'unpublished: no Kafka in this test');
      assert.deepEqual((stored.rule.webhook as { secret: string }).secret, HOOK_SECRET, 'the secret is kept in the database for the evaluator');
    });

    it('GET /v1/rules/{id} and GET /v1/rules answer what was made, to a viewer', async () => {
      const made = await create(threshold({ name: 'listed' }));
      const one = await call('GET', `/v1/rules/${String(made.id)}`, viewer);
      assert.equal(one.statusCode, 200);
      assert.deepEqual(one.json(), made);
      const list = (await call('GET', '/v1/rules', viewer)).json() as { rules: Record<string, unknown>[] };
      assert.deepEqual(list.rules.find((r) => r.id === made.id), made);
      assert.equal(JSON.stringify(list).includes(HOOK_SECRET), false);
    });

    it('PUT replaces the rule whole, bumps the version, and keeps the stored secret for the same webhook URL', async () => {
      const made = await create();
      const id = String(made.id);
      // What GET answered, edited and sent back: version and has_secret ride along.
      const edited = { ...made, params: { op: 'above', value: 90 }, severity: 'warning' };
      const res = await call('PUT', `/v1/rules/${id}`, operator, edited);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as Record<string, unknown>;
      assert.equal(body.version, 2);
      assert.deepEqual(body.params, { op: 'above', value: 90, for_s: 0 }, 'clear is gone: the body replaced the params whole');
      assert.equal(body.severity, 'warning');
      assert.deepEqual(body.webhook, { url: 'https://hooks.example/fieldline', has_secret: true });
      assert.equal(((await row(id)).rule.webhook as { secret?: string }).secret, HOOK_SECRET);

      const dropped = await call('PUT', `/v1/rules/${id}`, operator, { ...edited, version: 2, webhook: { url: 'https://hooks.example/fieldline', has_secret: false } });
      assert.deepEqual((dropped.json() as Record<string, unknown>).webhook, { url: 'https://hooks.example/fieldline', has_secret: false });
      const moved = await call('PUT', `/v1/rules/${id}`, operator, { ...edited, version: undefined, webhook: { url: 'https://other.example/' } });
      assert.equal((moved.json() as { version: number }).version, 4);
      assert.equal((await row(id)).version, 4);
    });

    it('PUT naming an older version is refused with 409 and changes nothing', async () => {
      const made = await create();
      const id = String(made.id);
      assert.equal((await call('PUT', `/v1/rules/${id}`, operator, { ...made, name: 'second' })).statusCode, 200);
      const res = await call('PUT', `/v1/rules/${id}`, operator, { ...made, name: 'lost update' });
      assert.equal(res.statusCode, 409);
      assert.equal((res.json() as ErrorBody).error.code, 'FL_ERR_API_RULE_CONFLICT');
      assert.equal(((await call('GET', `/v1/rules/${id}`, viewer)).json() as { name: string }).name, 'second');
    });

    it('a bad body is 400 FL_ERR_API_BAD_RULE listing every problem, and nothing is stored', async () => {
      const before = ((await call('GET', '/v1/rules', viewer)).json() as { rules: unknown[] }).rules.length;
      const res = await call('POST', '/v1/rules', operator, { name: 'n', kind: 'threshold', params: { op: 'above', value: 1, clear: 5 } });
      assert.equal(res.statusCode, 400);
      const { error } = res.json() as ErrorBody;
      assert.equal(error.code, 'FL_ERR_API_BAD_RULE');
      for (const path of ['target.metric', 'params.clear']) assert.match(error.message, new RegExp(`\\n- ${path.replace('.', '\\.')}: `), path);
      assert.equal(((await call('GET', '/v1/rules', viewer)).json() as { rules: unknown[] }).rules.length, before);
      const withId = await call('POST', '/v1/rules', operator, threshold({ id: 'r_mine' }));
      assert.equal(withId.statusCode, 400);
      assert.match((withId.json() as ErrorBody).error.message, /- id: the server names/);
      const made = await create();
      const put = await call('PUT', `/v1/rules/${String(made.id)}`, operator, { ...threshold(), severity: 'loud' });
      assert.equal(put.statusCode, 400);
      assert.match((put.json() as ErrorBody).error.message, /- severity: /);
      assert.equal((await row(String(made.id))).version, 1, 'a refused PUT leaves the version');
    });

    it('DELETE answers 204, then the rule is 404 and gone from the list; the row stays, marked deleted, with its version bumped', async () => {
      const made = await create();
      const id = String(made.id);
      assert.equal((await call('DELETE', `/v1/rules/${id}`, operator)).statusCode, 204);
      const gone = await call('GET', `/v1/rules/${id}`, viewer);
      assert.equal(gone.statusCode, 404);
      assert.equal((gone.json() as ErrorBody).error.code, 'FL_ERR_API_RULE_NOT_FOUND');
      assert.equal(((await call('GET', '/v1/rules', viewer)).json() as { rules: { id: string }[] }).rules.some((r) => r.id === id), false);
      const stored = await row(id);
      assert.equal(stored.version, 2);
      assert.ok(stored.deleted_at);
      assert.equal((await call('DELETE', `/v1/rules/${id}`, operator)).statusCode, 404, 'a second delete');
      assert.equal((await call('PUT', `/v1/rules/${id}`, operator, threshold())).statusCode, 404, 'a PUT after the delete');
    });

    it('disabling a rule resolves its firing alerts in the same change, saying why, with a resolved event for its webhook', async () => {
      const made = await create();
      const id = String(made.id);
      const firing = await insertAlert(id);
      const resolvedBefore = await insertAlert(id, { state: 'resolved' });
      const res = await call('PUT', `/v1/rules/${id}`, operator, { ...made, enabled: false });
      assert.equal(res.statusCode, 200);
      const alert = (await call('GET', `/v1/alerts/${firing}`, viewer)).json() as Record<string, unknown>;
      assert.equal(alert.state, 'resolved');
      assert.equal(alert.resolved_at, new Date(nowMs).toISOString());
      assert.match(String(alert.message), /^resolved: the rule was disabled; was: temperature 81\.5 above 80$/);
      const events = await db.query<{ alert_id: string; type: string }>(`SELECT alert_id, type FROM alert_events WHERE rule_id = $1`, [id]);
      assert.deepEqual(events.rows, [{ alert_id: firing, type: 'resolved' }], 'one event, for the firing alert only');
      const hooks = await db.query<{ url: string; secret: string }>(`SELECT url, secret FROM webhook_deliveries WHERE rule_id = $1`, [id]);
      assert.deepEqual(hooks.rows, [{ url: 'https://hooks.example/fieldline', secret: HOOK_SECRET }]);
      assert.equal(((await call('GET', `/v1/alerts/${resolvedBefore}`, viewer)).json() as { message: string }).message, 'temperature 81.5 above 80', 'an alert already resolved is left alone');
    });

    it('deleting a rule resolves its firing alerts too', async () => {
      const made = await create(threshold({ webhook: undefined }));
      const id = String(made.id);
      const firing = await insertAlert(id);
      assert.equal((await call('DELETE', `/v1/rules/${id}`, operator)).statusCode, 204);
      const alert = (await call('GET', `/v1/alerts/${firing}`, viewer)).json() as Record<string, unknown>;
      assert.equal(alert.state, 'resolved');
      assert.match(String(alert.message), /^resolved: the rule was deleted; /);
      const events = await db.query<{ type: string; payload: { rule_name: string } }>(`SELECT type, payload FROM alert_events WHERE alert_id = $1`, [firing]);
      assert.deepEqual(events.rows.map((e) => [e.type, e.payload.rule_name]), [['resolved', 'pump too hot']]);
      assert.equal((await db.query(`SELECT 1 FROM webhook_deliveries WHERE rule_id = $1`, [id])).rows.length, 0, 'no webhook, no delivery');
    });
  });

  describe('alerts', () => {
    let ruleId: string;
    let other: string;
    const ids: string[] = [];
    before(async () => {
      ruleId = String((await create(threshold({ name: 'paged' }))).id);
      other = String((await create(threshold({ name: 'other', webhook: undefined }))).id);
      // Seven firing alerts, three of them starting at the same instant (the cursor must keep them apart).
      const base = T0 + 10 * 86_400_000;
      for (const [i, at] of [0, 1, 2, 2, 2, 3, 4].entries()) ids.push(await insertAlert(ruleId, { startedMs: base + at * 1000, device: `pg-${i}`, severity: i === 6 ? 'warning' : 'critical', gateway: i < 2 ? 'gw-9' : 'gw-1' }));
      ids.push(await insertAlert(ruleId, { startedMs: base + 5000, device: 'pg-old', state: 'resolved' }));
      ids.push(await insertAlert(other, { startedMs: base + 6000, device: 'pg-other' }));
    });

    const list = async (query: string, token = viewer): Promise<{ alerts: Record<string, unknown>[]; next_cursor: string | null }> => {
      const res = await call('GET', `/v1/alerts?${query}`, token);
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { alerts: Record<string, unknown>[]; next_cursor: string | null };
    };

    it('lists firing alerts by default, newest first, in the contract shape', async () => {
      const body = await list(`rule_id=${ruleId}`);
      assert.equal(body.next_cursor, null);
      assert.deepEqual(body.alerts.map((a) => a.id), [ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]);
      const first = body.alerts[0]!;
      for (const key of ['id', 'rule_id', 'target', 'state', 'severity', 'value', 'started_at', 'resolved_at', 'acked_by', 'acked_at', 'message']) assert.ok(key in first, key);
      assert.deepEqual(first.target, { gateway: 'gw-1', device: 'pg-6', metric: 'temperature' });
    });

    it('filters by state, gateway, device and severity', async () => {
      assert.deepEqual((await list(`rule_id=${ruleId}&state=resolved`)).alerts.map((a) => a.id), [ids[7]]);
      assert.equal((await list(`rule_id=${ruleId}&state=all`)).alerts.length, 8);
      assert.deepEqual((await list(`rule_id=${ruleId}&gateway=gw-9`)).alerts.map((a) => a.id), [ids[1], ids[0]]);
      assert.deepEqual((await list(`rule_id=${ruleId}&device=pg-3`)).alerts.map((a) => a.id), [ids[3]]);
      assert.deepEqual((await list(`rule_id=${ruleId}&severity=warning`)).alerts.map((a) => a.id), [ids[6]]);
      assert.ok((await list('state=all')).alerts.some((a) => a.id === ids[8]), 'without rule_id, every rule');
    });

    it('pages with next_cursor through alerts that share a start time, each alert once', async () => {
      for (const limit of [1, 2, 3]) {
        const seen: unknown[] = [];
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<typeof list>> = await list(`rule_id=${ruleId}&state=all&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
          assert.ok(page.alerts.length <= limit);
          seen.push(...page.alerts.map((a) => a.id));
          cursor = page.next_cursor;
        } while (cursor);
        assert.deepEqual(seen, [ids[7], ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]], `limit ${limit}`);
      }
    });

    it('refuses a bad state, severity, limit or cursor with 400', async () => {
      for (const [query, code] of [
        ['state=open', 'FL_ERR_API_BAD_PARAM'],
        ['severity=loud', 'FL_ERR_API_BAD_PARAM'],
        ['limit=1001', 'FL_ERR_API_BAD_PARAM'],
        ['limit=0', 'FL_ERR_API_BAD_PARAM'],
        ['cursor=AAAA', 'FL_ERR_API_BAD_CURSOR'],
        ['cursor=not*base64', 'FL_ERR_API_BAD_CURSOR'],
      ] as const) {
        const res = await call('GET', `/v1/alerts?${query}`, viewer);
        assert.equal(res.statusCode, 400, query);
        assert.equal((res.json() as ErrorBody).error.code, code, query);
      }
    });

    it('ack sets acked_by to the token subject and records one acknowledged event with the rule webhook; a second ack is 200 and changes nothing', async () => {
      const id = ids[2]!;
      const res = await call('POST', `/v1/alerts/${id}/ack`, operator);
      assert.equal(res.statusCode, 200, res.body);
      const acked = res.json() as Record<string, unknown>;
      assert.equal(acked.acked_by, 'otto');
      assert.equal(acked.acked_at, new Date(nowMs).toISOString());
      assert.equal(acked.state, 'firing', 'acknowledging does not resolve');
      nowMs += 5000;
      const again = await call('POST', `/v1/alerts/${id}/ack`, operator, { note: 'second try' });
      assert.equal(again.statusCode, 200);
      assert.deepEqual(again.json(), acked, 'the alert as it was');
      const events = await db.query<{ type: string; payload: { type: string; alert: { acked_by: string } } }>(`SELECT type, payload FROM alert_events WHERE alert_id = $1`, [id]);
      assert.equal(events.rows.length, 1, 'one event for two acks');
      assert.equal(events.rows[0]!.type, 'acknowledged');
      assert.equal(events.rows[0]!.payload.alert.acked_by, 'otto');
      const hooks = await db.query<{ url: string }>(`SELECT url FROM webhook_deliveries d JOIN alert_events e USING (event_id) WHERE e.alert_id = $1`, [id]);
      assert.deepEqual(hooks.rows, [{ url: 'https://hooks.example/fieldline' }]);
      assert.equal(((await call('GET', `/v1/alerts/${id}`, viewer)).json() as { acked_by: string }).acked_by, 'otto');
    });

    it('an ack note goes with the event on iot.alerts and in the webhook body', async () => {
      const id = ids[3]!;
      assert.equal((await call('POST', `/v1/alerts/${id}/ack`, operator, { note: 'on my way' })).statusCode, 200);
      const e = (await db.query<{ event_id: string; payload: { note: string } }>(`SELECT event_id, payload FROM alert_events WHERE alert_id = $1`, [id])).rows[0]!;
      assert.equal(e.payload.note, 'on my way');
      const body = (await db.query<{ body: string }>(`SELECT body FROM webhook_deliveries WHERE event_id = $1`, [e.event_id])).rows[0]!.body;
      assert.deepEqual(JSON.parse(body), e.payload, 'the webhook gets the same event');
      for (const bad of [{ note: 5 }, { note: 'x'.repeat(1001) }, { remark: 'hi' }, [1]]) {
        const res = await call('POST', `/v1/alerts/${ids[4]!}/ack`, operator, bad);
        assert.equal(res.statusCode, 400, JSON.stringify(bad));
        assert.equal((res.json() as ErrorBody).error.code, 'FL_ERR_API_BAD_REQUEST');
      }
      assert.equal(((await call('GET', `/v1/alerts/${ids[4]!}`, viewer)).json() as { acked_by: unknown }).acked_by, null, 'a refused ack changes nothing');
    });
  });

  describe('auth and unknown ids', () => {
    const cases: [string, 'GET' | 'POST' | 'PUT' | 'DELETE', string, 'none' | 'viewer' | 'operator' | 'telemetry', number, string][] = [
      ['no token on GET /v1/rules', 'GET', '/v1/rules', 'none', 401, 'FL_ERR_AUTH_MISSING'],
      ['no token on GET /v1/alerts', 'GET', '/v1/alerts', 'none', 401, 'FL_ERR_AUTH_MISSING'],
      ['no token on an ack', 'POST', '/v1/alerts/a_0001/ack', 'none', 401, 'FL_ERR_AUTH_MISSING'],
      ['a token without read:fleet reading rules', 'GET', '/v1/rules', 'telemetry', 403, 'FL_ERR_AUTH_SCOPE'],
      ['a token without read:fleet reading alerts', 'GET', '/v1/alerts', 'telemetry', 403, 'FL_ERR_AUTH_SCOPE'],
      ['a viewer making a rule', 'POST', '/v1/rules', 'viewer', 403, 'FL_ERR_AUTH_SCOPE'],
      ['a viewer replacing a rule', 'PUT', '/v1/rules/r_aaaaaaaaaaaa', 'viewer', 403, 'FL_ERR_AUTH_SCOPE'],
      ['a viewer deleting a rule', 'DELETE', '/v1/rules/r_aaaaaaaaaaaa', 'viewer', 403, 'FL_ERR_AUTH_SCOPE'],
      ['a viewer acking', 'POST', '/v1/alerts/a_0001/ack', 'viewer', 403, 'FL_ERR_AUTH_SCOPE'],
      ['an unknown rule', 'GET', '/v1/rules/r_nope', 'viewer', 404, 'FL_ERR_API_RULE_NOT_FOUND'],
      ['PUT of an unknown rule', 'PUT', '/v1/rules/r_nope', 'operator', 404, 'FL_ERR_API_RULE_NOT_FOUND'],
      ['DELETE of an unknown rule', 'DELETE', '/v1/rules/r_nope', 'operator', 404, 'FL_ERR_API_RULE_NOT_FOUND'],
      ['an unknown alert', 'GET', '/v1/alerts/a_nope', 'viewer', 404, 'FL_ERR_API_ALERT_NOT_FOUND'],
      ['an ack of an unknown alert', 'POST', '/v1/alerts/a_nope/ack', 'operator', 404, 'FL_ERR_API_ALERT_NOT_FOUND'],
    ];
    for (const [what, method, url, who, status, code] of cases) {
      it(`answers ${status} ${code} for ${what}`, async () => {
        const token = who === 'viewer' ? viewer : who === 'operator' ? operator : who === 'telemetry' ? telemetryOnly : undefined;
        const res = await call(method, url, token, method === 'PUT' ? threshold() : undefined);
        assert.equal(res.statusCode, status, res.body);
        assert.equal((res.json() as ErrorBody).error.code, code);
      });
    }

    it('without the alerts dependency the paths are not there (404)', async () => {
      const bare = buildApi({ store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '' });
      try {
        const res = await bare.inject({ method: 'GET', url: '/v1/rules', headers: { authorization: `Bearer ${viewer}` } });
        assert.equal(res.statusCode, 404);
        assert.equal((res.json() as ErrorBody).error.code, 'FL_ERR_API_NOT_FOUND');
      } finally {
        await bare.close();
      }
    });
  });
});
