// Bad CoAP settings stop start-up with a message naming the key, the value and what was expected;
// sample.yaml shows the defaults and loads.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../../../common/src/config.js';
import { repoRoot } from '../../../../devstack/net.js';
import { coapConfigSchema } from './config.js';

// The gateway mounts the schema under `coap`; the same wrapper gives the same key paths.
const schema = z.strictObject({ coap: coapConfigSchema });

function problems(coap: Record<string, unknown>): string[] {
  try {
    loadConfig(schema, { envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {}, overrides: { coap } });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('CoAP settings', () => {
  test('sample.yaml loads and holds exactly the defaults', () => {
    const file = join(repoRoot(), 'gateway', 'src', 'ingest', 'coap', 'sample.yaml');
    const fromFile = loadConfig(schema, { file, envPrefix: 'FIELDLINE_TEST_UNUSED_', env: {} }).coap;
    assert.deepEqual(fromFile, coapConfigSchema.parse({}));
    assert.equal(fromFile.enabled, true);
    assert.equal(fromFile.port, 5683);
  });

  test('refuses unknown keys and bad values, naming the key', () => {
    assert.match(problems({ prot: 5683 }).join('\n'), /prot/);
    assert.match(problems({ port: 70000 }).join('\n'), /coap\.port/);
    assert.match(problems({ piggybackMs: 5000 }).join('\n'), /coap\.piggybackMs/);
    assert.match(problems({ maxInflight: 5000, dedupEntries: 2048 }).join('\n'), /coap\.maxInflight.*dedupEntries/);
    assert.deepEqual(problems({ port: 0, maxPayloadBytes: 512 }), []);
  });
});
