// Secrets leave the gateway only as REDACTED, and REDACTED sent back keeps the stored value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergePatch } from './merge-patch.js';
import { REDACTED, isSecretPath, redact, restoreSecrets } from './secrets.js';

const stored = {
  api: { adminToken: 'local-admin-token-0123456789' },
  mqtt: { credentials: [{ username: 'meter-1', password: 'pw-one' }, { username: 'meter-2', password: 'pw-two' }] },
  kafka: {
    brokers: 'k:9092',
    rdkafka: { 'sasl.password': 'kafka-pw', 'ssl.key.password': 'key-pw', 'ssl.key.pem': '-----BEGIN…', 'ssl.key.location': '/certs/k.pem', 'sasl.username': 'gw' },
  },
};

describe('secrets in the config', () => {
  it('are the admin token, MQTT passwords and librdkafka passwords, secrets and inline keys; file paths are not', () => {
    assert.ok(isSecretPath(['api', 'adminToken']));
    assert.ok(isSecretPath(['mqtt', 'credentials', 3, 'password']));
    for (const k of ['sasl.password', 'ssl.key.password', 'ssl.keystore.password', 'sasl.oauthbearer.client.secret', 'ssl.key.pem']) assert.ok(isSecretPath(['kafka', 'rdkafka', k]), k);
    for (const k of ['ssl.key.location', 'ssl.ca.location', 'sasl.username', 'security.protocol']) assert.ok(!isSecretPath(['kafka', 'rdkafka', k]), k);
    assert.ok(!isSecretPath(['mqtt', 'credentials', 0, 'username']));
  });

  it('are redacted in a deep copy, the rest shown as it is', () => {
    const r = redact(stored);
    assert.equal(r.api.adminToken, REDACTED);
    assert.deepEqual(r.mqtt.credentials.map((c) => c.password), [REDACTED, REDACTED]);
    assert.equal(r.kafka.rdkafka['sasl.password'], REDACTED);
    assert.equal(r.kafka.rdkafka['ssl.key.pem'], REDACTED);
    assert.equal(r.kafka.rdkafka['ssl.key.location'], '/certs/k.pem');
    assert.equal(r.kafka.rdkafka['sasl.username'], 'gw');
    assert.equal(stored.api.adminToken, 'local-admin-token-0123456789', 'the original is untouched');
  });

  it('round trip: the redacted config sent back as a patch stores exactly what was there', () => {
    const merged = mergePatch(stored, redact(stored)) as typeof stored;
    const { value, problems } = restoreSecrets(merged, stored);
    assert.deepEqual(problems, []);
    assert.deepEqual(value, stored);
  });

  it('a login keeps its password by username when the list is reordered, and a new value replaces the stored one', () => {
    const patch = { mqtt: { credentials: [{ username: 'meter-2', password: REDACTED }, { username: 'meter-1', password: 'new-one' }] } };
    const { value, problems } = restoreSecrets(mergePatch(stored, patch) as typeof stored, stored);
    assert.deepEqual(problems, []);
    assert.deepEqual((value as typeof stored).mqtt.credentials, [{ username: 'meter-2', password: 'pw-two' }, { username: 'meter-1', password: 'new-one' }]);
  });

  it('REDACTED where nothing is stored (a renamed login) is a problem naming the key, not a password', () => {
    const patch = { mqtt: { credentials: [{ username: 'meter-9', password: REDACTED }] } };
    const { problems } = restoreSecrets(mergePatch(stored, patch) as typeof stored, stored);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.path, 'mqtt.credentials.0.password');
    assert.match(problems[0]!.message, /none is stored/);
  });
});
