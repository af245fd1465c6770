// The device and telemetry routes against the embedded TimescaleDB (in memory): every route's
// happy path and refusals, the fleet claim's 404s, and the aggregate cache.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { openEmbedded } from '../store/db.js';
import { Store } from '../store/store.js';
import type { AggregateAnswer } from '../store/aggregates.js';
import { AggregateCache } from './aggregate-cache.js';
import { TokenAuthority } from './auth.js';
import { autoBucket, DEFAULT_QUERY_SETTINGS } from './device-routes.js';
import { buildApi } from './server.js';

const SECRET = 'device-routes-test-secret-long-enough-for-hs256';
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
// Now, for every route here: a fixed clock, so the cache's expiry is moved by the test, not by time.
const NOW = Date.UTC(2026, 10, 20, 12, 0, 30);

describe('device routes', () => {
  let store: Store;
  let app: ReturnType<typeof buildApi>;
  let clock = NOW;
  const cache = new AggregateCache<AggregateAnswer>({ ttlMs: 5_000, maxEntries: 100, now: () => clock });
  const auth = new TokenAuthority(SECRET);
  const tokens: Record<string, string> = {};

  const fleetToken = (fleet: string[], role = 'viewer') =>
    new SignJWT({ role, fleet }).setProtectedHeader({ alg: 'HS256' }).setSubject('fleet-user').setIssuer('fieldline')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600).sign(new TextEncoder().encode(SECRET));

  before(async () => {
    store = new Store(await openEmbedded(undefined));
    await store.migrate();
    // dev-a behind gw-a: temperature every 10 s for the 2 hours before NOW, humidity once.
    await store.ingest([{
      gatewayId: 'gw-a', seq: 1, createdMs: NOW,
      readings: [
        ...Array.from({ length: 720 }, (_, i) => ({ deviceId: 'dev-a', tsMs: NOW - 2 * HOUR + i * 10_000, metrics: { temperature: i % 50 } })),
        { deviceId: 'dev-a', tsMs: NOW - HOUR, metrics: { humidity: 40 } },
        { deviceId: 'pump-7', tsMs: NOW - HOUR, metrics: { flow: 3 } },
      ],
    }, {
      gatewayId: 'gw-b', seq: 1, createdMs: NOW,
      readings: [{ deviceId: 'dev-b', tsMs: NOW - MIN, metrics: { temperature: 5 } }, { deviceId: 'dev-c', tsMs: NOW - MIN, metrics: { temperature: 6 } }],
    }]);
    app = buildApi({
      store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
      query: { ...DEFAULT_QUERY_SETTINGS, percentilesMaxRangeMs: DAY, percentilesMaxRows: 10_000, maxPoints: 2_000, now: () => clock, cache },
    });
    tokens.viewer = await auth.issue({ subject: 'v', role: 'viewer', ttlSeconds: 600 });
    tokens.operator = await auth.issue({ subject: 'o', role: 'operator', ttlSeconds: 600 });
    tokens.fleetA = await fleetToken(['gw-a']);
    tokens.fleetAOperator = await fleetToken(['gw-a'], 'operator');
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  const get = (url: string, who = 'viewer') => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[who]}` } });
  const patch = (url: string, body: unknown, who = 'operator') =>
    app.inject({ method: 'PATCH', url, payload: body as object, headers: { authorization: `Bearer ${tokens[who]}` } });
  const refused = (res: { statusCode: number; json(): unknown }, status: number, code: string, mentions?: RegExp) => {
    assert.equal(res.statusCode, status);
    const err = (res.json() as { error: { code: string; message: string } }).error;
    assert.equal(err.code, code);
    if (mentions) assert.match(err.message, mentions);
  };

  // --- devices ----------------------------------------------------------------------------------

  it('GET /v1/devices lists every device by id with its metadata fields; gateway= and q= filter; limit and next_cursor page', async () => {
    const all = (await get('/v1/devices')).json() as { devices: Record<string, unknown>[]; next_cursor: null };
    assert.deepEqual(all.devices.map((d) => d.device_id), ['dev-a', 'dev-b', 'dev-c', 'pump-7']);
    assert.equal(all.next_cursor, null);
    assert.deepEqual(all.devices[0], {
      device_id: 'dev-a', gateway_id: 'gw-a', first_seen: new Date(NOW - 2 * HOUR).toISOString(), last_seen: new Date(NOW - 2 * HOUR + 719 * 10_000).toISOString(),
      metrics: ['humidity', 'temperature'], name: null, type: null, location: null, tags: {}, expected_interval_ms: null,
    });
    const ids = async (url: string) => ((await get(url)).json() as { devices: { device_id: string }[] }).devices.map((d) => d.device_id);
    assert.deepEqual(await ids('/v1/devices?gateway=gw-b'), ['dev-b', 'dev-c']);
    assert.deepEqual(await ids('/v1/devices?q=PUMP'), ['pump-7']);
    assert.deepEqual(await ids('/v1/devices?q=%25'), [], 'a % in q is a character, not a wildcard');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const body = (await get(`/v1/devices?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).json() as { devices: { device_id: string }[]; next_cursor: string | null };
      seen.push(...body.devices.map((d) => d.device_id));
      cursor = body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, ['dev-a', 'dev-b', 'dev-c', 'pump-7']);
  });

  it('GET /v1/devices with a fleet claim lists only that fleet\'s devices', async () => {
    const body = (await get('/v1/devices', 'fleetA')).json() as { devices: { device_id: string }[] };
    assert.deepEqual(body.devices.map((d) => d.device_id), ['dev-a', 'pump-7']);
    const other = (await get('/v1/devices?gateway=gw-b', 'fleetA')).json() as { devices: unknown[] };
    assert.deepEqual(other.devices, []);
  });

  it('PATCH /v1/devices/{id} sets name, type, location, tags and expected_interval_ms; a field left out stays; null clears', async () => {
    const set = await patch('/v1/devices/dev-a', {
      name: 'Boiler room', type: 'thermometer', location: { lat: 52.52, lon: 13.405, label: 'Hall 3' }, tags: { site: 'north', line: '3' }, expected_interval_ms: 10_000,
    });
    assert.equal(set.statusCode, 200, set.body);
    const want = { name: 'Boiler room', type: 'thermometer', location: { lat: 52.52, lon: 13.405, label: 'Hall 3' }, tags: { site: 'north', line: '3' }, expected_interval_ms: 10_000 };
    assert.deepEqual(pick(set.json()), want);
    assert.deepEqual(pick((await get('/v1/devices/dev-a')).json()), want, 'GET shows what PATCH stored');
    const interval = await store.db.query<{ e: number }>(`SELECT expected_interval_ms AS e FROM devices WHERE device_id = 'dev-a'`);
    assert.equal(Number(interval.rows[0]!.e), 10_000, 'the column fleet completeness reads');

    const cleared = await patch('/v1/devices/dev-a', { type: null, location: null, tags: null });
    assert.deepEqual(pick(cleared.json()), { ...want, type: null, location: null, tags: {} });
    assert.deepEqual(pick((await patch('/v1/devices/dev-a', { location: { label: 'Hall 4' } })).json()).location, { label: 'Hall 4' });

    // A new batch from the device leaves the operator's fields alone.
    await store.ingest([{ gatewayId: 'gw-a', seq: 2, createdMs: NOW, readings: [{ deviceId: 'dev-a', tsMs: NOW - 2 * HOUR - MIN, metrics: { temperature: 1 } }] }]);
    assert.equal((await get('/v1/devices/dev-a')).json().name, 'Boiler room');
    assert.equal((await get('/v1/devices?q=boiler')).json().devices[0].device_id, 'dev-a', 'q= searches names too');
  });

  const badPatches: [string, unknown, RegExp][] = [
    ['an unknown field', { colour: 'red' }, /colour/],
    ['an unknown location field', { location: { lat: 1, lon: 2, alt: 3 } }, /alt/],
    ['a latitude beyond 90', { location: { lat: 91, lon: 0 } }, /lat/],
    ['a latitude without a longitude', { location: { lat: 10 } }, /location/],
    ['a tag value that is not a string', { tags: { site: 5 } }, /tags/],
    ['an empty name', { name: '' }, /name/],
    ['a negative expected_interval_ms', { expected_interval_ms: -5 }, /expected_interval_ms/],
    ['an empty body', {}, /fewer than 1|must NOT have fewer/],
  ];
  for (const [what, body, mentions] of badPatches) {
    it(`PATCH refuses ${what} with 400 naming it`, async () => {
      const res = await patch('/v1/devices/dev-b', body);
      assert.equal(res.statusCode, 400, res.body);
      const err = (res.json() as { error: { code: string; message: string } }).error;
      assert.match(err.code, /^FL_ERR_API_BAD_(REQUEST|PARAM)$/);
      assert.match(err.message, mentions);
    });
  }

  it('PATCH needs write:rules (403 for a viewer); another fleet\'s device and an unknown one are 404', async () => {
    refused(await patch('/v1/devices/dev-b', { name: 'x' }, 'viewer'), 403, 'FL_ERR_AUTH_SCOPE');
    refused(await patch('/v1/devices/dev-b', { name: 'x' }, 'fleetAOperator'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    refused(await patch('/v1/devices/nope', { name: 'x' }), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    assert.equal((await get('/v1/devices/dev-b')).json().name, null, 'nothing changed');
  });

  it('GET /v1/devices/{id}: 404 for an unknown device and, identically, for another fleet\'s', async () => {
    assert.equal((await get('/v1/devices/pump-7', 'fleetA')).statusCode, 200);
    const unknown = await get('/v1/devices/nope', 'fleetA');
    const hidden = await get('/v1/devices/dev-b', 'fleetA');
    refused(unknown, 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    refused(hidden, 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
  });

  // --- readings and latest ----------------------------------------------------------------------

  it('readings, aggregates and latest of another fleet\'s device answer 404 like an unknown device', async () => {
    for (const path of ['readings', 'aggregates?metric=temperature', 'latest']) {
      refused(await get(`/v1/devices/dev-b/${path}`, 'fleetA'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
      refused(await get(`/v1/devices/nope/${path}`), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    }
    assert.equal((await get(`/v1/devices/dev-a/readings?from=${NOW - HOUR}&limit=1`, 'fleetA')).statusCode, 200);
  });

  it('a NUL character in a device id or a filter is a 400 naming it, not a database error', async () => {
    refused(await get('/v1/devices/dev%00a/latest'), 400, 'FL_ERR_API_BAD_PARAM', /params\/id/);
    refused(await get('/v1/devices?q=a%00b'), 400, 'FL_ERR_API_BAD_PARAM', /querystring\/q/);
    refused(await get(`/v1/devices/dev-a/readings?from=-8000000000000000&to=${NOW}`), 400, 'FL_ERR_API_BAD_PARAM', /4713 BC/);
  });

  it('GET /v1/devices/{id}/latest answers each metric\'s newest reading', async () => {
    const res = await get('/v1/devices/dev-a/latest');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      device_id: 'dev-a',
      metrics: {
        humidity: { ts: new Date(NOW - HOUR).toISOString(), value: 40 },
        temperature: { ts: new Date(NOW - 2 * HOUR + 719 * 10_000).toISOString(), value: 719 % 50 },
      },
    });
  });

  // --- aggregates -------------------------------------------------------------------------------

  it('aggregates: whole buckets over the range, avg/min/max/count/last per bucket, and only the percentiles asked for', async () => {
    const from = NOW - 2 * HOUR; // 10:00:30: its minute starts at 10:00
    const res = await get(`/v1/devices/dev-a/aggregates?metric=temperature&bucket=1m&from=${from}&to=${from + 2 * MIN}&percentiles=95,50`);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { device_id: string; metric: string; bucket: string; source: string; points: Record<string, number | string>[] };
    assert.deepEqual([body.device_id, body.metric, body.bucket, body.source], ['dev-a', 'temperature', '1m', 'hot']);
    // The minute 10:00 holds 10:00:30, :40 and :50 (values 0, 1, 2).
    assert.deepEqual(body.points[0], { ts: new Date(Math.floor(from / MIN) * MIN).toISOString(), avg: 1, min: 0, max: 2, count: 3, last: 2, p50: 1, p95: 1.9 });
    assert.equal(body.points.length, 3);
    assert.deepEqual(body.points.map((p) => p.count), [3, 6, 6]);
  });

  it('aggregates: without bucket, the narrowest with at most 1,500 points (1m for a day, 1h for a week, 1d for a year); without from/to the last 24 hours', async () => {
    assert.equal(autoBucket(NOW - DAY, NOW), '1m');
    assert.equal(autoBucket(NOW - 7 * DAY, NOW), '1h');
    assert.equal(autoBucket(NOW - 365 * DAY, NOW), '1d');
    const body = (await get('/v1/devices/dev-a/aggregates?metric=temperature')).json() as { bucket: string; points: { count: number }[] };
    assert.equal(body.bucket, '1m');
    assert.equal(body.points.reduce((n, p) => n + p.count, 0), 721);
    const week = (await get(`/v1/devices/dev-a/aggregates?metric=temperature&from=${NOW - 7 * DAY}`)).json() as { bucket: string; points: { count: number }[] };
    assert.equal(week.bucket, '1h');
    // 09:59:30 (the late reading PATCH's test sent), 10:00:30 to 10:59:50, the hour 11, 12:00:00 to 12:00:20.
    assert.deepEqual(week.points.map((p) => p.count), [1, 357, 360, 3]);
  });

  const badAggregates: [string, string, string, RegExp][] = [
    ['no metric', 'bucket=1m', 'FL_ERR_API_BAD_PARAM', /metric/],
    ['an unknown bucket', 'metric=temperature&bucket=5m', 'FL_ERR_API_BAD_PARAM', /bucket/],
    ['a percentile that is not 50, 95 or 99', 'metric=temperature&percentiles=90', 'FL_ERR_API_BAD_PARAM', /percentiles/],
    ['a bad from', 'metric=temperature&from=yesterday', 'FL_ERR_API_BAD_PARAM', /from/],
    ['from after to', `metric=temperature&from=${NOW}&to=${NOW - 1}`, 'FL_ERR_API_BAD_PARAM', /from is after to/],
    ['a from before the earliest time the database holds', 'metric=temperature&bucket=1d&from=-8000000000000000&to=-7999990000000000', 'FL_ERR_API_BAD_PARAM', /4713 BC/],
    ['a NUL character in the metric', 'metric=temp%00erature', 'FL_ERR_API_BAD_PARAM', /metric/],
    ['more points than api.query.maxPoints', `metric=temperature&bucket=1m&from=${NOW - 2 * DAY}&to=${NOW}`, 'FL_ERR_API_RANGE_TOO_LARGE', /points/],
    ['percentiles over a range longer than percentilesMaxRangeMs', `metric=temperature&bucket=1h&from=${NOW - 2 * DAY}&percentiles=50`, 'FL_ERR_API_RANGE_TOO_LARGE', /percentilesMaxRangeMs/],
  ];
  for (const [what, query, code, mentions] of badAggregates) {
    it(`aggregates: 400 ${code} for ${what}`, async () => {
      refused(await get(`/v1/devices/dev-a/aggregates?${query}`), 400, code, mentions);
    });
  }

  it('aggregates: percentiles over more readings than percentilesMaxRows are refused before they are sorted', async () => {
    const tight = buildApi({
      store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
      query: { ...DEFAULT_QUERY_SETTINGS, percentilesMaxRows: 700, now: () => NOW },
    });
    try {
      const url = `/v1/devices/dev-a/aggregates?metric=temperature&bucket=1h&from=${NOW - 3 * HOUR}&to=${NOW}`;
      const headers = { authorization: `Bearer ${tokens.viewer}` };
      assert.equal((await tight.inject({ method: 'GET', url, headers })).statusCode, 200, 'without percentiles');
      refused(await tight.inject({ method: 'GET', url: `${url}&percentiles=99`, headers }), 400, 'FL_ERR_API_RANGE_TOO_LARGE', /721 readings/);
    } finally {
      await tight.close();
    }
  });

  it('aggregates: a repeated query is served from the cache until its TTL, then computed again', async () => {
    const url = `/v1/devices/dev-c/aggregates?metric=temperature&bucket=1h&from=${NOW - HOUR}&to=${NOW}`;
    const before = { ...cache.stats };
    const first = (await get(url)).json() as { points: { count: number }[] };
    assert.deepEqual(first.points.map((p) => p.count), [1]);
    // A reading arrives in the open bucket; within the TTL the cached answer stands.
    await store.ingest([{ gatewayId: 'gw-b', seq: 2, createdMs: NOW, readings: [{ deviceId: 'dev-c', tsMs: NOW - 10_000, metrics: { temperature: 7 } }] }]);
    clock = NOW + 4_000;
    const again = (await get(url)).json();
    assert.deepEqual(again, first);
    // The same buckets asked with other bounds inside them are the same question.
    assert.deepEqual((await get(`/v1/devices/dev-c/aggregates?metric=temperature&bucket=1h&from=${NOW - HOUR + 1}&to=${NOW - 1}`)).json(), first);
    assert.deepEqual([cache.stats.hits - before.hits, cache.stats.misses - before.misses], [2, 1]);
    clock = NOW + 5_001;
    const fresh = (await get(url)).json() as { points: { count: number }[] };
    assert.deepEqual(fresh.points.map((p) => p.count), [1, 1], 'the new reading, in the open hour, shows once the entry expired');
    assert.equal(cache.stats.misses - before.misses, 2);
    clock = NOW;
  });

  it('the OpenAPI document describes every device path with its parameters', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>> };
    for (const [path, method] of [['/v1/devices', 'get'], ['/v1/devices/{id}', 'get'], ['/v1/devices/{id}', 'patch'], ['/v1/devices/{id}/readings', 'get'], ['/v1/devices/{id}/aggregates', 'get'], ['/v1/devices/{id}/latest', 'get']] as const) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path}`);
      assert.ok(op.responses['200'], `${method} ${path} has a 200 schema`);
    }
    const params = doc.paths['/v1/devices/{id}/aggregates']!.get!.parameters!.map((p) => p.name).sort();
    assert.deepEqual(params, ['bucket', 'from', 'id', 'metric', 'percentiles', 'to']);
  });
});

function pick(d: Record<string, unknown>): Record<string, unknown> {
  return { name: d.name, type: d.type, location: d.location, tags: d.tags, expected_interval_ms: d.expected_interval_ms };
}
