// Token checks (api/auth.ts) and the server-level protections (api/protection.ts): the 401 matrix
// against a real JWKS served over HTTP with key rotation, 403, the fleet claim, 429, overload 503,
// the OIDC login settings and request logs without tokens.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { pino } from 'pino';
import { waitUntil } from '../../../devstack/net.js';
import { cloudConfigSchema } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import { openEmbedded } from '../store/db.js';
import { Store } from '../store/store.js';
import { TokenAuthority, type Principal } from './auth.js';
import { buildApi, type ApiDeps } from './server.js';

const SECRET = 'an-hs256-secret-for-the-auth-tests-0123456789';
const now = (): number => Math.floor(Date.now() / 1000);
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

interface KeyPair {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(kid: string, alg: 'RS256' | 'ES256'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A JWKS endpoint whose key set the test replaces, counting the fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  private server!: Server;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((_req, res) => {
      this.fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/certs`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((done) => this.server.close(() => done()));
  }
}

function sign(key: KeyPair, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number; sub?: string | null; kid?: string } = {}): Promise<string> {
  const jwt = new SignJWT({ role: 'viewer', ...claims })
    .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid, typ: 'JWT' })
    .setIssuer(opts.iss ?? 'https://sso.example.com/realms/ops')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now() + 600);
  if (opts.sub !== null) jwt.setSubject(opts.sub ?? 'sso-user');
  if (opts.aud !== undefined) jwt.setAudience(opts.aud);
  return jwt.sign(key.privateKey);
}

function hs256(secret: string | Uint8Array, claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** Refusal as (code, message); fails the test when the token is accepted. */
async function refusal(auth: TokenAuthority, token: string): Promise<{ code: string; message: string; status: number }> {
  try {
    await auth.verify(`Bearer ${token}`);
  } catch (err) {
    assert.ok(err instanceof FieldlineError, String(err));
    for (const part of token.split('.').filter((p) => p.length >= 8)) assert.ok(!err.message.includes(part), 'the reason echoes the token');
    return { code: err.code, message: err.message, status: err.statusCode };
  }
  assert.fail('the token was accepted');
}

describe('token authority: the 401 matrix', () => {
  const jwks = new JwksServer();
  let rsa: KeyPair;
  let ec: KeyPair;
  let sso: TokenAuthority;
  let both: TokenAuthority;
  const ISS = 'https://sso.example.com/realms/ops';

  before(async () => {
    await jwks.start();
    rsa = await keyPair('rsa-1', 'RS256');
    ec = await keyPair('ec-1', 'ES256');
    jwks.keys = [rsa.jwk, ec.jwk];
    const jwksOpts = { url: jwks.url, algorithms: ['RS256', 'ES256'] as const, cooldownMs: 0, timeoutMs: 2_000 };
    sso = new TokenAuthority({ issuer: ISS, audience: 'fieldline-api', jwks: jwksOpts, roleClaim: 'realm_access.roles' });
    both = new TokenAuthority({ secret: SECRET, issuer: ISS, audience: 'fieldline-api', jwks: jwksOpts });
  });
  after(() => jwks.stop());

  it('accepts RS256 and ES256 tokens from the JWKS, with the role from realm_access.roles', async () => {
    for (const key of [rsa, ec]) {
      const p = await sso.verify(`Bearer ${await sign(key, { realm_access: { roles: ['offline_access', 'operator'] } }, { aud: 'fieldline-api' })}`);
      assert.equal(p.subject, 'sso-user');
      assert.deepEqual([...p.scopes].sort(), ['read:fleet', 'read:telemetry', 'write:commands', 'write:rules']);
    }
  });

  it('takes HS256 tokens from the secret and RS256 from the JWKS in one authority, chosen by the header alg', async () => {
    const dev = await both.issue({ subject: 'dev', role: 'admin', ttlSeconds: 60 });
    assert.equal((await both.verify(`Bearer ${dev}`)).subject, 'dev');
    assert.equal((await both.verify(`Bearer ${await sign(rsa, {}, { aud: 'fieldline-api' })}`)).subject, 'sso-user');
  });

  it('refuses no token and a header that is not a bearer token', async () => {
    await assert.rejects(sso.verify(undefined), { code: 'FL_ERR_AUTH_MISSING' });
    await assert.rejects(sso.verify('Basic dXNlcjpwYXNz'), { code: 'FL_ERR_AUTH_MISSING' });
  });

  it('refuses a token expired beyond the clock tolerance, and accepts one within it', async () => {
    const expired = await sign(rsa, {}, { aud: 'fieldline-api', exp: now() - 120 });
    assert.deepEqual(await refusal(sso, expired), { code: 'FL_ERR_AUTH_INVALID', status: 401, message: 'the bearer token is not valid: token expired' });
    const justNow = await sign(rsa, {}, { aud: 'fieldline-api', exp: now() - 5 });
    assert.equal((await sso.verify(`Bearer ${justNow}`)).subject, 'sso-user');
  });

  it('refuses alg none before looking at any key', async () => {
    const before = jwks.fetches;
    for (const alg of ['none', 'None', 'NONE']) {
      const unsigned = `${b64({ alg, typ: 'JWT' })}.${b64({ sub: 'x', role: 'admin', iss: ISS, aud: 'fieldline-api', exp: now() + 60 })}.`;
      const r = await refusal(both, unsigned);
      assert.equal(r.code, 'FL_ERR_AUTH_INVALID');
      assert.match(r.message, /algorithm is not accepted/);
    }
    assert.equal(jwks.fetches, before, 'the key set was fetched for an unsigned token');
  });

  it('refuses HS256 signed with the RS256 public key (algorithm confusion), with and without a secret configured', async () => {
    const pem = await exportSPKI(rsa.publicKey);
    const claims = { sub: 'attacker', role: 'admin', iss: ISS, aud: 'fieldline-api', exp: now() + 60 };
    const forged = hs256(pem, claims, { alg: 'HS256', typ: 'JWT', kid: rsa.kid });
    const before = jwks.fetches;
    const onlyJwks = await refusal(sso, forged);
    assert.equal(onlyJwks.status, 401);
    assert.match(onlyJwks.message, /HS256 algorithm is not accepted/);
    assert.equal(jwks.fetches, before, 'the JWKS was consulted for an HS256 token');
    assert.match((await refusal(both, forged)).message, /signature invalid/);
  });

  it('refuses an empty secret at construction, and tokens signed with an empty key or carrying no signature', async () => {
    assert.throws(() => new TokenAuthority(''), /at least 32 characters/);
    assert.throws(() => new TokenAuthority({}), /needs a secret, a JWKS URL or both/);
    const claims = { sub: 'x', role: 'admin', iss: ISS, aud: 'fieldline-api', exp: now() + 60 };
    assert.match((await refusal(both, hs256('', claims))).message, /signature invalid/);
    const stripped = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.`;
    assert.equal((await refusal(both, stripped)).code, 'FL_ERR_AUTH_INVALID');
    const rsStripped = (await sign(rsa, {}, { aud: 'fieldline-api' })).replace(/\.[^.]+$/, '.');
    assert.equal((await refusal(sso, rsStripped)).code, 'FL_ERR_AUTH_INVALID');
  });

  it('refuses a wrong issuer, a wrong or missing audience, and a token without sub', async () => {
    assert.match((await refusal(sso, await sign(rsa, {}, { aud: 'fieldline-api', iss: 'https://evil.example.com' }))).message, /wrong issuer/);
    assert.match((await refusal(sso, await sign(rsa, {}, { aud: 'another-api' }))).message, /wrong audience/);
    assert.match((await refusal(sso, await sign(rsa, {}))).message, /wrong audience/);
    assert.match((await refusal(sso, await sign(rsa, {}, { aud: 'fieldline-api', sub: null }))).message, /sub claim missing/);
  });

  it('refuses an unknown kid, and a key whose algorithm is not pinned', async () => {
    assert.match((await refusal(sso, await sign(rsa, {}, { aud: 'fieldline-api', kid: 'nobody' }))).message, /no key in the key set matches/);
    const rsOnly = new TokenAuthority({ issuer: ISS, jwks: { url: jwks.url, algorithms: ['RS256'], cooldownMs: 0 } });
    assert.match((await refusal(rsOnly, await sign(ec, {}))).message, /ES256 algorithm is not accepted/);
  });

  it('follows key rotation by kid: the new key verifies after rotation, the removed key no longer', async () => {
    const auth = new TokenAuthority({ issuer: ISS, jwks: { url: jwks.url, algorithms: ['RS256', 'ES256'], cooldownMs: 0 } });
    const rsa2 = await keyPair('rsa-2', 'RS256');
    assert.equal((await auth.verify(`Bearer ${await sign(rsa, {})}`)).subject, 'sso-user');
    const oldToken = await sign(rsa, {});
    jwks.keys = [rsa2.jwk, ec.jwk];
    try {
      assert.equal((await auth.verify(`Bearer ${await sign(rsa2, {})}`)).subject, 'sso-user', 'the new kid was not fetched');
      assert.match((await refusal(auth, oldToken)).message, /no key in the key set matches/);
    } finally {
      jwks.keys = [rsa.jwk, ec.jwk];
    }
  });

  it('answers 503 FL_ERR_AUTH_KEYS_UNAVAILABLE, not 401, when the key set cannot be fetched', async () => {
    const dead = new JwksServer();
    await dead.start();
    const url = dead.url;
    await dead.stop();
    const auth = new TokenAuthority({ issuer: ISS, jwks: { url, algorithms: ['RS256'], cooldownMs: 0, timeoutMs: 1_000 } });
    const r = await refusal(auth, await sign(rsa, {}));
    assert.deepEqual([r.code, r.status], ['FL_ERR_AUTH_KEYS_UNAVAILABLE', 503]);
  });
});

describe('token authority: claims', () => {
  const auth = new TokenAuthority({ secret: SECRET });
  const principal = (claims: Record<string, unknown>): Promise<Principal> =>
    auth.verify(`Bearer ${hs256(SECRET, { sub: 'c', iss: 'fieldline', exp: now() + 60, ...claims })}`);

  it('reads scope as a space-separated string and scp as an array, ignoring unknown scopes', async () => {
    assert.deepEqual([...(await principal({ scope: 'read:fleet openid write:rules' })).scopes].sort(), ['read:fleet', 'write:rules']);
    assert.deepEqual([...(await principal({ scp: ['read:telemetry', 'profile'] })).scopes], ['read:telemetry']);
    assert.deepEqual([...(await principal({ role: 'superuser' })).scopes], []);
  });

  it('reads fleet: absent is every gateway, [] is none, a list is those; anything else is 401', async () => {
    assert.equal((await principal({})).fleet, null);
    assert.deepEqual([...(await principal({ fleet: [] })).fleet!], []);
    assert.deepEqual([...(await principal({ fleet: ['gw-1', 'gw-2'] })).fleet!], ['gw-1', 'gw-2']);
    for (const fleet of ['gw-1', { gw: 1 }, ['gw-1', 7], null, true]) {
      await assert.rejects(principal({ fleet }), (err: FieldlineError) => err.code === 'FL_ERR_AUTH_INVALID' && /fleet claim/.test(err.message));
    }
  });

  it('issues tokens with role, scopes, fleet, audience and lifetime that verify back', async () => {
    const aud = new TokenAuthority({ secret: SECRET, audience: 'api' });
    const token = await aud.issue({ subject: 'ops', role: 'viewer', scopes: ['write:rules'], fleet: ['gw-9'], ttlSeconds: 900 });
    const p = await aud.verify(`Bearer ${token}`);
    assert.deepEqual([...p.scopes].sort(), ['read:fleet', 'read:telemetry', 'write:rules']);
    assert.deepEqual([...p.fleet!], ['gw-9']);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number; aud: string };
    assert.deepEqual([claims.exp - claims.iat, claims.aud], [900, 'api']);
    await assert.rejects(new TokenAuthority({ secret: SECRET, audience: 'other' }).verify(`Bearer ${token}`), /wrong audience/);
  });
});

describe('API protections', () => {
  let store: Store;
  const auth = new TokenAuthority(SECRET);
  const apis: ReturnType<typeof buildApi>[] = [];
  const defaults = cloudConfigSchema.parse({}).api;

  before(async () => {
    store = new Store(await openEmbedded(undefined));
    await store.migrate();
  });
  after(async () => {
    for (const a of apis) await a.close();
    await store.close();
  });

  const api = (extra: Partial<ApiDeps> = {}): ReturnType<typeof buildApi> => {
    const a = buildApi({ store, auth, maxLimit: 1000, health: () => ({ ok: true, detail: {} }), metrics: async () => '# nothing\n', ...extra });
    apis.push(a);
    return a;
  };
  const get = (app: ReturnType<typeof buildApi>, url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers 403 FL_ERR_AUTH_SCOPE for a valid token without the scope', async () => {
    const app = api();
    const res = await get(app, '/v1/devices', await auth.issue({ subject: 'f', scopes: ['read:fleet'], ttlSeconds: 60 }));
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, 'FL_ERR_AUTH_SCOPE');
  });

  it('answers 429 FL_ERR_API_RATE_LIMITED with Retry-After after max requests of one subject; other subjects, /healthz and /metrics go on', async () => {
    const app = api({ protection: { ...defaults, rateLimit: { enabled: true, max: 3, timeWindowMs: 60_000 } } });
    const alice = await auth.issue({ subject: 'alice', role: 'viewer', ttlSeconds: 60 });
    const alice2 = await auth.issue({ subject: 'alice', role: 'viewer', ttlSeconds: 120 });
    for (let i = 0; i < 3; i++) assert.equal((await get(app, '/v1/devices', alice)).statusCode, 200);
    const limited = await get(app, '/v1/devices', alice2);
    assert.equal(limited.statusCode, 429, 'a second token of the same subject shares its budget');
    assert.equal(limited.json().error.code, 'FL_ERR_API_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal((await get(app, '/v1/devices', await auth.issue({ subject: 'bob', role: 'viewer', ttlSeconds: 60 }))).statusCode, 200);
    for (let i = 0; i < 5; i++) {
      assert.equal((await get(app, '/healthz')).statusCode, 200);
      assert.equal((await get(app, '/metrics')).statusCode, 200);
    }
  });

  it('limits requests with bad tokens by client address, before the guard answers 401', async () => {
    const app = api({ protection: { ...defaults, rateLimit: { enabled: true, max: 2, timeWindowMs: 60_000 } } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(app, '/v1/devices', `garbage-${i}`)).statusCode);
    assert.deepEqual(statuses, [401, 401, 429, 429]);
  });

  it('answers 503 FL_ERR_API_UNAVAILABLE with Retry-After while overloaded; /metrics still answers', async () => {
    const app = api({ protection: { ...defaults, underPressure: { enabled: true, maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1, maxRssBytes: 0, retryAfterS: 7 } } });
    const viewer = await auth.issue({ subject: 'v', role: 'viewer', ttlSeconds: 60 });
    await app.ready();
    // under-pressure samples the heap once a second.
    await waitUntil(async () => (await get(app, '/v1/devices', viewer)).statusCode === 503, { what: 'heap pressure', timeoutMs: 10_000 });
    const res = await get(app, '/v1/devices', viewer);
    assert.equal(res.json().error.code, 'FL_ERR_API_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '7');
    assert.equal((await get(app, '/metrics')).statusCode, 200);
  });

  it('answers the OIDC login settings when configured, 404 otherwise, and documents the path', async () => {
    assert.equal((await get(api(), '/v1/auth/oidc')).statusCode, 404);
    const oidc = { authorizationUrl: 'https://sso.example.com/auth', tokenUrl: 'https://sso.example.com/token', clientId: 'fieldline-dashboard', scope: 'openid profile' };
    const app = api({ oidc });
    const res = await get(app, '/v1/auth/oidc');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { authorization_url: oidc.authorizationUrl, token_url: oidc.tokenUrl, client_id: 'fieldline-dashboard', scope: 'openid profile' });
    const doc = (await get(app, '/docs/json')).json() as { paths: Record<string, unknown> };
    assert.ok(doc.paths['/v1/auth/oidc'], 'missing from the OpenAPI document');
  });

  it('logs one line per request with method, route, status, duration and subject, and never the token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
        done();
      },
    });
    const app = api({ log: pino({ level: 'trace' }, sink) });
    const token = await auth.issue({ subject: 'logged-user', role: 'viewer', ttlSeconds: 60 });
    await get(app, '/v1/devices', token);
    await get(app, `/v1/devices?access_token=${token}`, token);
    await get(app, `/v1/nothing?access_token=${token}`, token);
    await get(app, `/v1/devices/x/readings?from=nonsense&access_token=${token}`, token);
    await app.inject({ method: 'GET', url: '/v1/devices', headers: { authorization: `Bearer ${token}x` } });
    const all = lines.join('\n');
    for (const part of token.split('.')) assert.ok(!all.includes(part), `a log line holds part of the token:\n${all}`);
    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    assert.equal(requests.length, 5);
    assert.deepEqual(
      requests.map((r) => [r.method, r.route, r.status, r.subject]),
      [
        ['GET', '/v1/devices', 200, 'logged-user'],
        ['GET', '/v1/devices', 200, 'logged-user'],
        ['GET', null, 404, null],
        ['GET', '/v1/devices/:id/readings', 400, 'logged-user'],
        ['GET', '/v1/devices', 401, null],
      ],
    );
    assert.ok(requests.every((r) => typeof r.durationMs === 'number'));
  });
});
