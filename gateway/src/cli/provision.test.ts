// fieldline-gateway provision, as a script runs it (flags) and as a field tech does (a terminal,
// answering prompts). The written file must load the way start-up loads it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema } from '../config/schema.js';

const MAIN = join(import.meta.dirname, 'main.js');
// No FIELDLINE_GATEWAY_* from the caller's environment may leak into what is checked.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith(GATEWAY_ENV_PREFIX)));
const cli = (args: string[]) => spawnSync(process.execPath, [MAIN, 'provision', ...args], { encoding: 'utf8', timeout: 30_000, env: cleanEnv, input: '' });
const load = (file: string) => loadConfig(gatewayConfigSchema, { file, env: {}, envPrefix: GATEWAY_ENV_PREFIX });
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGU=\n-----END ${what}-----\n`;

describe('fieldline-gateway provision', () => {
  const root = mkdtempSync(join(tmpdir(), 'fieldline-provision-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('with flags: writes a valid 0600 file, copies the TLS files into <data-dir>/certs, prints a generated token once', () => {
    const dir = join(root, 'flags');
    mkdirSync(dir);
    for (const [name, what] of [['ca.pem', 'CERTIFICATE'], ['client.pem', 'CERTIFICATE'], ['client.key', 'PRIVATE KEY']]) writeFileSync(join(dir, name!), PEM(what!));
    const file = join(dir, 'etc', 'gateway.yaml');
    const data = join(dir, 'data');
    const r = cli([
      '--config', file, '--gateway-id', 'gw-site-7', '--brokers', 'k1.example:9093,k2.example:9093', '--data-dir', data,
      '--kafka-ca', join(dir, 'ca.pem'), '--kafka-cert', join(dir, 'client.pem'), '--kafka-key', join(dir, 'client.key'),
      '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'gw-site-7', '--sasl-password', 'kafka-secret', '--non-interactive',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const token = /admin token \(shown once[^)]*\): (\S+)/.exec(r.stdout)?.[1];
    assert.ok(token && token.length >= 16, r.stdout);
    assert.match(r.stdout, /created .*gateway\.yaml/);
    assert.match(r.stdout, /fieldline-gateway status/);
    assert.ok(!r.stdout.includes('kafka-secret'), 'the SASL password is not printed');

    const cfg = load(file);
    assert.equal(cfg.gatewayId, 'gw-site-7');
    assert.equal(cfg.kafka.brokers, 'k1.example:9093,k2.example:9093');
    assert.equal(cfg.dataDir, data);
    assert.equal(cfg.api.adminToken, token);
    assert.deepEqual(cfg.kafka.rdkafka, {
      'security.protocol': 'SASL_SSL',
      'ssl.ca.location': join(data, 'certs', 'kafka-ca.pem'),
      'ssl.certificate.location': join(data, 'certs', 'kafka-cert.pem'),
      'ssl.key.location': join(data, 'certs', 'kafka-key.pem'),
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'gw-site-7',
      'sasl.password': 'kafka-secret',
    });
    assert.equal(readFileSync(join(data, 'certs', 'kafka-key.pem'), 'utf8'), PEM('PRIVATE KEY'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(data, 'certs', 'kafka-key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(data, 'certs')).mode & 0o777, 0o700);
    assert.equal(existsSync(`${file}.bak`), false);
    // The device CA is made at provisioning, its key readable only by the service user.
    const ca = /device CA\s+created: (\S+)/.exec(r.stdout)?.[1];
    assert.ok(ca && existsSync(ca), r.stdout);
    assert.ok(readdirSync(join(data, 'pki')).includes('ca.key'), `a CA key in ${join(data, 'pki')}`);
    assert.equal(statSync(join(data, 'pki', 'ca.key')).mode & 0o777, 0o600);

    // Again with new brokers: the previous file becomes the backup, the token stays and is not shown.
    const first = readFileSync(file, 'utf8');
    const again = cli(['--config', file, '--brokers', 'k3.example:9093', '--non-interactive']);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(readFileSync(`${file}.bak`, 'utf8'), first);
    assert.match(again.stdout, /previous file kept as .*gateway\.yaml\.bak/);
    assert.ok(!again.stdout.includes(token), 'the token is printed only when it is made');
    const cfg2 = load(file);
    assert.equal(cfg2.kafka.brokers, 'k3.example:9093');
    assert.equal(cfg2.api.adminToken, token);
    assert.equal(cfg2.kafka.rdkafka['sasl.password'], 'kafka-secret', 'TLS and SASL not mentioned: left as they were');
  });

  it('--non-interactive names the missing flags and writes nothing; bad values name the flag', () => {
    const file = join(root, 'missing', 'gateway.yaml');
    const r = cli(['--config', file, '--non-interactive']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--gateway-id and --brokers are required/);
    assert.equal(existsSync(file), false);
    const bad = cli(['--config', file, '--gateway-id', 'no spaces allowed', '--brokers', 'k:1', '--non-interactive']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--gateway-id: expected .* \(got "no spaces allowed"\)/);
    const short = cli(['--config', file, '--gateway-id', 'gw', '--brokers', 'k:1', '--admin-token', 'short', '--non-interactive']);
    assert.equal(short.status, 2);
    assert.match(short.stderr, /--admin-token: expected at least 16 characters/);
    assert.equal(existsSync(file), false);
  });

  it('in a terminal it asks for what is missing and writes the answers', async () => {
    const file = join(root, 'pty', 'gateway.yaml');
    const data = join(root, 'pty', 'data');
    const command = [process.execPath, MAIN, 'provision', '--config', file, '--data-dir', data].map((a) => `'${a}'`).join(' ');
    // script(1) gives the command a pseudo-terminal, so stdin and stdout are TTYs as on a laptop.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...cleanEnv, TERM: 'xterm', COLUMNS: '120' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let seen = 0;
    const answer = async (prompt: string, keys: string) => {
      const deadline = Date.now() + 20_000;
      while (out.indexOf(prompt, seen) < 0) {
        if (Date.now() > deadline) throw new Error(`no prompt ${JSON.stringify(prompt)}; terminal so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      seen = out.indexOf(prompt, seen) + prompt.length;
      child.stdin.write(keys);
    };
    try {
      await answer('Gateway id', 'gw-pty-1\r');
      await answer('Kafka brokers', 'broker.example:9092\r');
      await answer('Connect to Kafka over TLS?', 'n\r');
      await answer('Log in to Kafka with SASL?', 'y\r');
      await answer('SASL mechanism', '\r');
      await answer('SASL username', 'gw-pty-user\r');
      await answer('SASL password', 'pty-secret\r');
      await answer('Write ', 'y\r');
      assert.equal(await exited, 0, out);
    } finally {
      child.kill('SIGKILL');
    }
    assert.match(out, /admin token \(shown once/);
    assert.ok(!out.includes('pty-secret'), 'the password prompt echoes a mask, not the password');
    const cfg = load(file);
    assert.equal(cfg.gatewayId, 'gw-pty-1');
    assert.equal(cfg.kafka.brokers, 'broker.example:9092');
    assert.equal(cfg.kafka.rdkafka['security.protocol'], 'SASL_PLAINTEXT');
    assert.equal(cfg.kafka.rdkafka['sasl.mechanisms'], 'SCRAM-SHA-512', 'the offered default was taken');
    assert.equal(cfg.kafka.rdkafka['sasl.username'], 'gw-pty-user');
    assert.equal(cfg.kafka.rdkafka['sasl.password'], 'pty-secret');
  });
});
