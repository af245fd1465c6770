// Bad MQTT settings stop start-up with a message naming the key, the value and what was expected;
// sample.yaml (and the README's copy of it) shows the defaults and loads.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../../../common/src/config.js';
import { repoRoot } from '../../../../devstack/net.js';
import { gatewayConfigSchema } from '../../config/schema.js';
import { mqttConfigSchema } from './config.js';

// The gateway mounts the schema under `mqtt`; the same wrapper gives the same key paths.
const schema = z.strictObject({ mqtt: mqttConfigSchema });
const here = join(repoRoot(), 'gateway', 'src', 'ingest', 'mqtt');

function problems(mqtt: Record<string, unknown>, s: z.ZodType = schema): string[] {
  try {
    loadConfig(s, { envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {}, overrides: { mqtt } });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('MQTT settings', () => {
  test('sample.yaml loads and holds exactly the defaults', () => {
    const fromFile = loadConfig(schema, { file: join(here, 'sample.yaml'), envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {} }).mqtt;
    const defaults = mqttConfigSchema.parse({});
    assert.deepEqual(fromFile, defaults);
    assert.equal(defaults.port, 1883);
    assert.equal(defaults.tls.port, 8883);
    assert.equal(defaults.websocket.port, 8081);
    assert.equal(defaults.maxPayloadBytes, 65_536);
  });

  test("the README's configuration section is the sample", () => {
    const readme = readFileSync(join(here, 'README.md'), 'utf8');
    const block = /## Configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README.md has a yaml block under ## Configuration');
    assert.deepEqual(parseYaml(block), parseYaml(readFileSync(join(here, 'sample.yaml'), 'utf8')));
  });

  test('the gateway composes the same section, with the same defaults', () => {
    assert.deepEqual(gatewayConfigSchema.parse({}).mqtt, mqttConfigSchema.parse({}));
  });

  test('refuses unknown keys and bad values, naming the key', () => {
    assert.match(problems({ prot: 1883 }).join('\n'), /prot/);
    assert.match(problems({ tls: { enable: true } }).join('\n'), /enable/);
    assert.match(problems({ port: 70000 }).join('\n'), /mqtt\.port/);
    assert.match(problems({ maxPayloadBytes: 10 }).join('\n'), /mqtt\.maxPayloadBytes/);
    assert.match(problems({ tls: { identityFrom: 'email' } }).join('\n'), /mqtt\.tls\.identityFrom/);
    assert.match(problems({ credentials: [{ username: 'u', password: '' }] }).join('\n'), /mqtt\.credentials\.0\.password/);
    assert.deepEqual(problems({ port: 0, credentials: [{ username: 'u', password: 'p', deviceId: 'dev-1' }] }), []);
  });

  test('TLS with only some of its PEM files stops start-up naming each missing file (and no password), alone or inside the gateway config', () => {
    for (const s of [schema, gatewayConfigSchema]) {
      const found = problems({ tls: { enabled: true, certFile: '/etc/gw.crt' }, credentials: [{ username: 'u', password: 'hunter2hunter2' }] }, s);
      const why = "expected a PEM file path beside certFile (set certFile, keyFile and caFile together, or none to use the gateway's own CA under dataDir/pki) (got undefined)";
      assert.deepEqual(found, [`mqtt.tls.keyFile: ${why}`, `mqtt.tls.caFile: ${why}`]);
      // None of the three: the gateway's own CA.
      assert.deepEqual(problems({ tls: { enabled: true } }, s), []);
      // With MQTT off the TLS listener never opens, so its files are not needed.
      assert.deepEqual(problems({ enabled: false, tls: { enabled: true } }, s), []);
    }
  });
});
