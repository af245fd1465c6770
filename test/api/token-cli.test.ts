// `fieldline-cloud token`, the built CLI in its own process: it signs with the API's configured
// secret, issuer and audience, carries role, scopes, fleet and lifetime, refuses bad values with
// exit 2 and a message naming them, and starts nothing (Kafka and the database are unreachable).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import { freePorts, repoRoot, run } from '../../devstack/net.js';

const SECRET = 'token-cli-test-secret-0123456789abcdefghij';

describe('fieldline-cloud token', () => {
  let dir: string;
  let config: string;
  const cli = join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js');
  // Without DATABASE_URL or FIELDLINE_CLOUD_* from the caller's environment, which would override the file.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && !k.startsWith('FIELDLINE_CLOUD_')));
  const token = (args: string[], cfg = config) => run(process.execPath, [cli, 'token', '--config', cfg, ...args], { env, timeoutMs: 60_000 });
  const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown> & { exp: number; iat: number };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-token-cli-'));
    // Ports nothing listens on: a token command that reached for Kafka or the database would hang or fail.
    const [kafkaPort, pgPort, apiPort] = await freePorts(3);
    config = join(dir, 'cloud.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${dir}/data`,
        `kafka: { brokers: "127.0.0.1:${kafkaPort}" }`,
        `database: { url: "postgres://postgres@127.0.0.1:${pgPort}/none" }`,
        `api: { port: ${apiPort}, jwtSecret: "${SECRET}", auth: { issuer: cli-test, audience: fieldline-api } }`,
      ].join('\n'),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a token the API with the same config accepts, with role, scopes, fleet, audience and lifetime', async () => {
    const r = await token(['--role', 'viewer', '--scope', 'write:rules', '--scope', 'write:commands,read:fleet', '--fleet', 'gw-1,gw-2', '--ttl', '15m', '--subject', 'alice']);
    assert.equal(r.code, 0, r.stderr);
    const jwt = r.stdout.trim();
    const p = await new TokenAuthority({ secret: SECRET, issuer: 'cli-test', audience: 'fieldline-api' }).verify(`Bearer ${jwt}`);
    assert.equal(p.subject, 'alice');
    assert.deepEqual([...p.scopes].sort(), ['read:fleet', 'read:telemetry', 'write:commands', 'write:rules']);
    assert.deepEqual([...p.fleet!], ['gw-1', 'gw-2']);
    const c = claims(jwt);
    assert.deepEqual([c.exp - c.iat, c.aud, c.iss], [900, 'fieldline-api', 'cli-test']);
  });

  it('reads --ttl as seconds or with s, m, h, d; --audience overrides the configured one; no --role or --scope is a viewer', async () => {
    for (const [ttl, seconds] of [['3600', 3600], ['90s', 90], ['12h', 43_200], ['7d', 604_800]] as const) {
      const r = await token(['--ttl', ttl, '--audience', 'other-api']);
      assert.equal(r.code, 0, r.stderr);
      const c = claims(r.stdout.trim());
      assert.deepEqual([c.exp - c.iat, c.aud, c.role, c.fleet], [seconds, 'other-api', 'viewer', undefined]);
    }
  });

  it('refuses bad values with exit 2 and a message naming the option and the value', async () => {
    const cases: [string[], RegExp][] = [
      [['--role', 'root'], /--role "root": expected one of viewer, operator, admin/],
      [['--scope', 'write:everything'], /--scope "write:everything": expected one of/],
      [['--ttl', '0'], /--ttl "0"/],
      [['--ttl', '5y'], /--ttl "5y"/],
      [['--ttl', '400d'], /--ttl "400d"/],
      [['--fleet', 'gw 1'], /--fleet "gw 1"/],
      [['--fleet', ','], /--fleet is empty/],
      [['--subject', ''], /--subject ""/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await token(args);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
  });

  it('prints its usage for --help, with exit 0', async () => {
    const r = await token(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fieldline-cloud token \[--role viewer\|operator\|admin\]/);
  });

  it('without a configured secret, signs with the one kept in the data directory, the same on every run', async () => {
    const noSecret = join(dir, 'no-secret.yaml');
    writeFileSync(noSecret, `dataDir: ${dir}/data2\napi: { auth: { issuer: cli-test } }\n`);
    const first = await token(['--subject', 'one'], noSecret);
    const second = await token(['--subject', 'two'], noSecret);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    const auth = new TokenAuthority({ secret: readFileSync(join(dir, 'data2', 'jwt-secret'), 'utf8').trim(), issuer: 'cli-test' });
    assert.equal((await auth.verify(`Bearer ${first.stdout.trim()}`)).subject, 'one');
    assert.equal((await auth.verify(`Bearer ${second.stdout.trim()}`)).subject, 'two');
  });
});
