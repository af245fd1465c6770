// POST|GET /v1/devices/{id}/commands against the embedded TimescaleDB (in memory): validation 400s,
// 401/403 by scope, 404 for an unknown device or one outside the token's fleet, the answers' shapes,
// paging and the status filter. Kafka is not involved: the relay is a fake that counts its calls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { CommandStore } from '../commands/store.js';
import { openEmbedded } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority } from './auth.js';
import { buildApi } from './server.js';

const SECRET = 'command-routes-test-secret-long-enough-for-hs256';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const LIMITS = { defaultExpiresInS: 600, maxExpiresInS: 3_600, maxPayloadBytes: 256 };

describe('command routes', () => {
  let store: Store;
  let commands: CommandStore;
  let app: ReturnType<typeof buildApi>;
  let clock = NOW;
  let relayCalls = 0;
  const auth = new TokenAuthority(SECRET);
  const tokens: Record<string, string> = {};

  const fleetToken = (fleet: string[], role: string) =>
    new SignJWT({ role, fleet }).setProtectedHeader({ alg: 'HS256' }).setSubject(`fleet-${role}`).setIssuer('fieldline')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600).sign(new TextEncoder().encode(SECRET));

  before(async () => {
    store = new Store(await openEmbedded(undefined));
    await store.migrate();
    // pump-1 was last seen behind gw-a after gw-old: its commands go to gw-a.
    await store.ingest([
      { gatewayId: 'gw-old', seq: 1, createdMs: NOW, readings: [{ deviceId: 'pump-1', tsMs: NOW - 120_000, metrics: { flow: 1 } }] },
      { gatewayId: 'gw-a', seq: 1, createdMs: NOW, readings: [{ deviceId: 'pump-1', tsMs: NOW - 60_000, metrics: { flow: 2 } }] },
      { gatewayId: 'gw-b', seq: 1, createdMs: NOW, readings: [{ deviceId: 'valve-9', tsMs: NOW - 60_000, metrics: { open: 1 } }] },
    ]);
    commands = new CommandStore(store.db);
    app = buildApi({
      store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '',
      commands: { store: commands, relay: { publishSoon: async () => void relayCalls++ }, limits: LIMITS, now: () => clock },
    });
    tokens.viewer = await auth.issue({ subject: 'v', role: 'viewer', ttlSeconds: 600 });
    tokens.operator = await auth.issue({ subject: 'op-anna', role: 'operator', ttlSeconds: 600 });
    tokens.admin = await auth.issue({ subject: 'root', role: 'admin', ttlSeconds: 600 });
    tokens.fleetB = await fleetToken(['gw-b'], 'operator');
    tokens.fleetA = await fleetToken(['gw-a'], 'operator');
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  const post = (device: string, body: unknown, who = 'operator') =>
    app.inject({ method: 'POST', url: `/v1/devices/${device}/commands`, payload: body as object, headers: { authorization: `Bearer ${tokens[who]}` } });
  const get = (url: string, who = 'viewer') => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[who]}` } });
  const refused = (res: { statusCode: number; body: string }, status: number, code: string, mentions?: RegExp) => {
    assert.equal(res.statusCode, status, res.body);
    const err = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, code, res.body);
    if (mentions) assert.match(err.message, mentions);
  };

  it('POST queues the command for the device\'s latest gateway: 201, Location, the contract\'s shape, the row stored, the relay told', async () => {
    const calls = relayCalls;
    const res = await post('pump-1', { name: 'set_interval', payload: { seconds: 30 }, expires_in_s: 120 });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as Record<string, unknown>;
    assert.match(String(body.id), /^[0-9a-f-]{36}$/);
    assert.deepEqual(body, {
      id: body.id, device_id: 'pump-1', gateway_id: 'gw-a', name: 'set_interval', status: 'queued',
      created_at: new Date(NOW).toISOString(), updated_at: new Date(NOW).toISOString(), expires_at: new Date(NOW + 120_000).toISOString(),
    });
    assert.equal(res.headers.location, `/v1/devices/pump-1/commands/${String(body.id)}`);
    const row = await commands.get(String(body.id));
    assert.ok(row);
    assert.deepEqual(
      { payload: row.payload, tag: row.tag, value: row.value, status: row.status, by: row.created_by, owed: row.event_pending, sent: row.sent_at },
      { payload: { seconds: 30 }, tag: null, value: null, status: 'queued', by: 'op-anna', owed: 'queued', sent: null },
    );
    assert.equal(relayCalls, calls + 1, 'the relay is asked to publish at once');
  });

  it('POST takes a Modbus write (tag and value) and the default expiry; admin may send too', async () => {
    const res = await post('pump-1', { name: 'write', tag: 'setpoint', value: [1, 2, 3] }, 'admin');
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json() as { id: string; expires_at: string };
    assert.equal(body.expires_at, new Date(NOW + LIMITS.defaultExpiresInS * 1000).toISOString());
    const row = await commands.get(body.id);
    assert.deepEqual([row?.tag, row?.value, row?.payload], ['setpoint', [1, 2, 3], null]);
    assert.equal((await post('pump-1', { name: 'write', tag: 'pump_on', value: true })).statusCode, 201);
  });

  it('POST refuses a bad body with 400 FL_ERR_API_BAD_COMMAND naming the problem, and stores nothing', async () => {
    const before = (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM commands')).rows[0]!.n;
    const cases: [unknown, RegExp][] = [
      [{}, /name: expected a string/],
      [{ name: '' }, /name: expected a string of 1 to 64/],
      [{ name: 'x'.repeat(65) }, /name/],
      [{ name: 'bad\nname' }, /control characters/],
      [{ name: 'reboot', extra: 1 }, /unknown key "extra"/],
      [{ name: 'reboot', expires_in_s: 0 }, /expires_in_s: expected a whole number of seconds from 1 to 3600/],
      [{ name: 'reboot', expires_in_s: 3_601 }, /commands.maxExpiresInS/],
      [{ name: 'reboot', expires_in_s: 1.5 }, /expires_in_s/],
      [{ name: 'reboot', expires_in_s: '60' }, /expires_in_s/],
      [{ name: 'reboot', payload: { blob: 'x'.repeat(300) } }, /payload: \d+ bytes as JSON, more than commands.maxPayloadBytes \(256\)/],
      [{ name: 'write', value: 1 }, /tag: a Modbus write needs/],
      [{ name: 'write', tag: 'setpoint' }, /value: a Modbus write needs a value/],
      [{ name: 'write', tag: 'setpoint', value: 'high' }, /value: expected a number, a boolean/],
      [{ name: 'write', tag: 'setpoint', value: [] }, /value/],
      [{ name: 'write', tag: 'setpoint', value: [1, true] }, /mixes types/],
      [{ name: 'write', tag: 'setpoint', value: 1, payload: {} }, /payload: a Modbus write takes tag and value/],
      [{ name: 'reboot', tag: 'setpoint', value: 1 }, /only a Modbus write/],
      [[1, 2], /JSON object/],
      [{ name: 'reboot', payload: { note: 'a\u0000b' } }, /payload: a string holds the NUL character/],
      [{ name: 'reboot', payload: { ['k\u0000']: 1 } }, /NUL/],
      [{ name: 'reboot', payload: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown }, /payload: nested deeper than 32 levels/],
    ];
    for (const [body, why] of cases) refused(await post('pump-1', body), 400, 'FL_ERR_API_BAD_COMMAND', why);
    const several = await post('pump-1', { name: '', expires_in_s: -1, nope: true });
    refused(several, 400, 'FL_ERR_API_BAD_COMMAND');
    assert.equal(JSON.parse(several.body).error.message.split('\n- ').length, 4, 'every problem is listed, one a line');
    const after = (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM commands')).rows[0]!.n;
    assert.equal(after, before);
  });

  it('needs a token (401) with write:commands to send (403 for a viewer) and read:telemetry to read', async () => {
    refused(await app.inject({ method: 'POST', url: '/v1/devices/pump-1/commands', payload: { name: 'reboot' } }), 401, 'FL_ERR_AUTH_MISSING');
    refused(await app.inject({ method: 'GET', url: '/v1/devices/pump-1/commands' }), 401, 'FL_ERR_AUTH_MISSING');
    refused(await post('pump-1', { name: 'reboot' }, 'viewer'), 403, 'FL_ERR_AUTH_SCOPE');
    const writeOnly = await auth.issue({ subject: 'w', scopes: ['write:commands'], ttlSeconds: 600 });
    refused(await app.inject({ method: 'GET', url: '/v1/devices/pump-1/commands', headers: { authorization: `Bearer ${writeOnly}` } }), 403, 'FL_ERR_AUTH_SCOPE');
  });

  it('answers 404 for a device never seen and for one outside the token\'s fleet, exactly alike', async () => {
    refused(await post('ghost', { name: 'reboot' }), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    refused(await post('pump-1', { name: 'reboot' }, 'fleetB'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    refused(await get('/v1/devices/pump-1/commands', 'fleetB'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    refused(await get('/v1/devices/ghost/commands'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
    assert.equal((await post('valve-9', { name: 'close' }, 'fleetB')).statusCode, 201, 'its own fleet\'s device');
    assert.equal((await post('pump-1', { name: 'reboot' }, 'fleetA')).statusCode, 201);
  });

  it('GET lists newest first with the contract\'s item shape; status= filters; limit and next_cursor page without skipping', async () => {
    for (let i = 0; i < 5; i++) {
      clock = NOW + 1_000 * (i + 1);
      assert.equal((await post('valve-9', { name: `step-${i}` })).statusCode, 201);
    }
    clock = NOW;
    const all = (await get('/v1/devices/valve-9/commands')).json() as { commands: Record<string, unknown>[]; next_cursor: string | null };
    assert.deepEqual(all.commands.map((c) => c.name), ['step-4', 'step-3', 'step-2', 'step-1', 'step-0', 'close']);
    assert.equal(all.next_cursor, null);
    assert.deepEqual(Object.keys(all.commands[0]!).sort(), ['created_at', 'device_id', 'expires_at', 'gateway_id', 'id', 'name', 'status', 'updated_at']);
    assert.ok(!('payload' in all.commands[0]!), 'a list item carries no payload');

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/v1/devices/valve-9/commands?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json() as { commands: { name: string }[]; next_cursor: string | null };
      assert.ok(page.commands.length <= 4);
      seen.push(...page.commands.map((c) => c.name));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, all.commands.map((c) => c.name));

    // One of them fails on the device: the filter finds it, with its error.
    const failedId = all.commands[1]!.id as string;
    assert.equal(await commands.apply({ id: failedId, device_id: 'valve-9', gateway_id: 'gw-b', status: 'failed', ts_ms: NOW, error: 'FL_ERR_X: stuck' }, NOW + 9_000), 'applied');
    const failed = (await get('/v1/devices/valve-9/commands?status=failed')).json() as { commands: Record<string, unknown>[] };
    assert.deepEqual(failed.commands.map((c) => [c.id, c.status, c.error, c.updated_at]), [[failedId, 'failed', 'FL_ERR_X: stuck', new Date(NOW + 9_000).toISOString()]]);
    refused(await get('/v1/devices/valve-9/commands?status=lost'), 400, 'FL_ERR_API_BAD_PARAM', /status must be one of/);
    refused(await get('/v1/devices/valve-9/commands?limit=0'), 400, 'FL_ERR_API_BAD_PARAM');
    refused(await get('/v1/devices/valve-9/commands?cursor=nonsense'), 400, 'FL_ERR_API_BAD_CURSOR');
  });

  it('GET one command shows what was sent only to a token that may send commands; another device\'s or an unknown id is 404', async () => {
    const id = ((await post('pump-1', { name: 'calibrate', payload: { offset: -0.5 } })).json() as { id: string }).id;
    const asViewer = (await get(`/v1/devices/pump-1/commands/${id}`)).json() as Record<string, unknown>;
    assert.equal(asViewer.status, 'queued');
    assert.ok(!('payload' in asViewer) && !('created_by' in asViewer));
    const asOperator = (await get(`/v1/devices/pump-1/commands/${id}`, 'operator')).json() as Record<string, unknown>;
    assert.deepEqual([asOperator.payload, asOperator.created_by, asOperator.sent_at], [{ offset: -0.5 }, 'op-anna', null]);
    refused(await get(`/v1/devices/valve-9/commands/${id}`), 404, 'FL_ERR_API_COMMAND_NOT_FOUND');
    refused(await get('/v1/devices/pump-1/commands/00000000-0000-0000-0000-000000000000'), 404, 'FL_ERR_API_COMMAND_NOT_FOUND');
    refused(await get(`/v1/devices/pump-1/commands/${id}`, 'fleetB'), 404, 'FL_ERR_API_DEVICE_NOT_FOUND');
  });

  it('the OpenAPI document lists the three operations with their schemas', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    assert.deepEqual(Object.keys(doc.paths['/v1/devices/{id}/commands'] ?? {}).sort(), ['get', 'post']);
    assert.deepEqual(doc.paths['/v1/devices/{id}/commands']!.post!.tags, ['commands']);
    assert.ok(doc.paths['/v1/devices/{id}/commands/{commandId}']?.get);
  });
});
