// The `fleet` claim on gateways, rules and alerts (DESIGN.md "Cloud API"): a token limited to some
// gateways sees only them, and another fleet's gateway, rule or alert answers 404 exactly as an
// unknown one does, never 403. Against the embedded TimescaleDB (in memory) with signed tokens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { targetKey } from '../alerts/rule.js';
import { RuleBook } from '../alerts/rules-publisher.js';
import { cloudConfigSchema } from '../config/schema.js';
import { FleetHealth } from '../fleet/fleet-health.js';
import { openEmbedded, type Db } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority } from './auth.js';
import { buildApi } from './server.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const T0 = Date.parse('2026-11-20T10:00:00.000Z');

/** A token as `fieldline-cloud token --fleet` issues one, signed here so the test does not depend on the CLI. */
async function token(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('fleet-test')
    .setIssuer('fieldline')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
}

describe('the fleet claim on gateways, rules and alerts', () => {
  let db: Db;
  let store: Store;
  let rules: RuleBook;
  let app: ReturnType<typeof buildApi>;
  let north: string;
  let everyone: string;
  let northOperator: string;
  const ids: Record<string, string> = {};

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, tok: string, body?: unknown) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${tok}` }, ...(body === undefined ? {} : { payload: body as object }) });

  before(async () => {
    db = await openEmbedded(undefined);
    store = new Store(db);
    await store.migrate();
    for (const [gw, dev] of [['gw-north', 'dev-n'], ['gw-south', 'dev-s']] as const) {
      await store.ingest([{ gatewayId: gw, seq: 1, createdMs: T0, readings: [{ deviceId: dev, tsMs: T0, metrics: { temperature: 20 } }] }]);
    }
    rules = new RuleBook({ db, kafka: { brokers: '127.0.0.1:1', sessionTimeoutMs: 10_000, rdkafka: {} }, topic: 'iot.rules', syncMs: 60_000, log: pino({ level: 'silent' }) });
    const fleetHealth = new FleetHealth(db, cloudConfigSchema.parse({}).fleet.health);
    app = buildApi({ store, auth: new TokenAuthority(SECRET), maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '', fleetHealth, alerts: { rules, db } });
    north = await token({ role: 'viewer', fleet: ['gw-north'] });
    northOperator = await token({ role: 'operator', fleet: ['gw-north'] });
    everyone = await token({ role: 'admin' });

    const make = async (name: string, target: Record<string, string>): Promise<string> => {
      const res = await call('POST', '/v1/rules', everyone, { name, kind: 'threshold', target: { metric: 'temperature', ...target }, params: { op: 'above', value: 30 } });
      assert.equal(res.statusCode, 201, res.body);
      return String((res.json() as { id: string }).id);
    };
    ids.northRule = await make('north hot', { gateway: 'gw-north' });
    ids.southRule = await make('south hot', { gateway: 'gw-south' });
    ids.globalRule = await make('any hot', {});
    for (const [key, gw, dev] of [['northAlert', 'gw-north', 'dev-n'], ['southAlert', 'gw-south', 'dev-s']] as const) {
      ids[key] = `a_${key}`;
      await db.query(
        `INSERT INTO alerts (id, rule_id, target_key, gateway_id, device_id, metric, state, severity, value, message, started_at, raised_at)
         VALUES ($1, $2, $3, $4, $5, 'temperature', 'firing', 'warning', 31, 'hot', $6, $6)`,
        [ids[key], ids.globalRule, targetKey({ gateway: gw, device: dev, metric: 'temperature' }), gw, dev, new Date(T0)],
      );
    }
  });

  after(async () => {
    await app.close();
    await rules.stop();
    await store.close();
  });

  it('GET /v1/gateways lists only the fleet; another fleet\'s gateway is 404 like an unknown one', async () => {
    const list = (await call('GET', '/v1/gateways', north)).json() as { gateways: { gateway_id: string }[] };
    assert.deepEqual(list.gateways.map((g) => g.gateway_id), ['gw-north']);
    const all = (await call('GET', '/v1/gateways', everyone)).json() as { gateways: { gateway_id: string }[] };
    assert.deepEqual(all.gateways.map((g) => g.gateway_id).sort(), ['gw-north', 'gw-south']);

    assert.equal((await call('GET', '/v1/gateways/gw-north', north)).statusCode, 200);
    const other = await call('GET', '/v1/gateways/gw-south', north);
    const unknown = await call('GET', '/v1/gateways/gw-nowhere', north);
    assert.equal(other.statusCode, 404);
    assert.equal((other.json() as { error: { code: string } }).error.code, 'FL_ERR_API_GATEWAY_NOT_FOUND');
    assert.equal((unknown.json() as { error: { code: string } }).error.code, 'FL_ERR_API_GATEWAY_NOT_FOUND');
  });

  it('rules: the fleet\'s own and those over every gateway are visible; another fleet\'s is 404', async () => {
    const list = (await call('GET', '/v1/rules', north)).json() as { rules: { id: string }[] };
    assert.deepEqual(list.rules.map((r) => r.id).sort(), [ids.northRule, ids.globalRule].sort());
    assert.equal((await call('GET', `/v1/rules/${ids.southRule}`, north)).statusCode, 404);
    assert.equal((await call('GET', `/v1/rules/${ids.globalRule}`, north)).statusCode, 200);
  });

  it('a fleet-limited operator writes only rules naming one of its gateways', async () => {
    const body = { name: 'n', kind: 'threshold', target: { metric: 'temperature' }, params: { op: 'above', value: 40 } };
    const global = await call('POST', '/v1/rules', northOperator, body);
    assert.equal(global.statusCode, 400);
    assert.match((global.json() as { error: { message: string } }).error.message, /target\.gateway/);
    assert.equal((await call('POST', '/v1/rules', northOperator, { ...body, target: { metric: 'temperature', gateway: 'gw-south' } })).statusCode, 400);
    const own = await call('POST', '/v1/rules', northOperator, { ...body, target: { metric: 'temperature', gateway: 'gw-north' } });
    assert.equal(own.statusCode, 201, own.body);

    assert.equal((await call('DELETE', `/v1/rules/${ids.southRule}`, northOperator)).statusCode, 404);
    assert.equal((await call('PUT', `/v1/rules/${ids.southRule}`, northOperator, { ...body, target: { metric: 'temperature', gateway: 'gw-north' } })).statusCode, 404);
    const globalChange = await call('DELETE', `/v1/rules/${ids.globalRule}`, northOperator);
    assert.equal(globalChange.statusCode, 403);
    assert.equal((await call('GET', `/v1/rules/${ids.globalRule}`, everyone)).statusCode, 200, 'the refused delete changed nothing');
    assert.equal((await call('GET', `/v1/rules/${ids.southRule}`, everyone)).statusCode, 200, 'the refused delete changed nothing');
  });

  it('alerts: listed, read and acknowledged only within the fleet', async () => {
    const list = (await call('GET', '/v1/alerts?state=all', north)).json() as { alerts: { id: string }[] };
    assert.deepEqual(list.alerts.map((a) => a.id), [ids.northAlert]);
    assert.equal((await call('GET', `/v1/alerts/${ids.southAlert}`, north)).statusCode, 404);
    assert.equal((await call('GET', `/v1/alerts/${ids.northAlert}`, north)).statusCode, 200);

    const ack = await call('POST', `/v1/alerts/${ids.southAlert}/ack`, northOperator);
    assert.equal(ack.statusCode, 404);
    const south = (await call('GET', `/v1/alerts/${ids.southAlert}`, everyone)).json() as { acked_by: string | null };
    assert.equal(south.acked_by, null, 'the refused ack changed nothing');
    assert.equal((await call('POST', `/v1/alerts/${ids.northAlert}/ack`, northOperator)).statusCode, 200);
  });

  it('an empty fleet sees nothing, and a fleet claim that is not a list is not a fleet-wide token', async () => {
    const none = await token({ role: 'viewer', fleet: [] });
    assert.deepEqual(((await call('GET', '/v1/gateways', none)).json() as { gateways: unknown[] }).gateways, []);
    assert.deepEqual(((await call('GET', '/v1/alerts?state=all', none)).json() as { alerts: unknown[] }).alerts, []);
    const bad = await token({ role: 'viewer', fleet: 'gw-north' });
    const res = await call('GET', '/v1/gateways', bad);
    assert.equal(res.statusCode, 401, `a malformed fleet claim must not widen the token: ${res.body}`);
  });
});
