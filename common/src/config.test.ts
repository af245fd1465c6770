import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { ConfigError, loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'fieldline-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string, env: Record<string, string> = {}) {
  const file = join(dir, `c${Math.random()}.yaml`);
  writeFileSync(file, yaml);
  return loadConfig(gatewayConfigSchema, { file, env, envPrefix: 'FIELDLINE_GATEWAY_' });
}

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('config loading', () => {
  it('gives every setting a default', () => {
    const c = load('');
    assert.equal(c.mqtt.port, 1883);
    assert.equal(c.api.port, 8080);
    assert.equal(c.kafka.readingsTopic, 'iot.readings');
    assert.equal(c.outbox.synchronous, 'FULL');
  });

  it('refuses an unknown key and names it', () => {
    assert.match(problems(() => load('mqtt:\n  prot: 1884\n')), /unknown key prot under mqtt/);
  });

  it('refuses a bad value naming the key, the value and what was expected', () => {
    const msg = problems(() => load('mqtt:\n  port: "eighty"\n'));
    assert.match(msg, /mqtt\.port/);
    assert.match(msg, /"eighty"/);
    assert.match(msg, /number/);
  });

  it('lets environment variables override the file', () => {
    const c = load('kafka:\n  brokers: a:9092\n', { FIELDLINE_GATEWAY_KAFKA__BROKERS: 'b:9093', FIELDLINE_GATEWAY_MQTT__PORT: '1999' });
    assert.equal(c.kafka.brokers, 'b:9093');
    assert.equal(c.mqtt.port, 1999);
  });

  it('refuses an unknown environment override too', () => {
    assert.match(problems(() => load('', { FIELDLINE_GATEWAY_MQTT__PROT: '1' })), /unknown key prot under mqtt/);
  });
});
