// The config file edited in place: only valid settings are written, atomically, 0600, with the
// previous file kept; comments survive; errors name the key as start-up does.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../../common/src/config.js';
import { configWritable, editConfigFile, envOverrideKeys, readRawConfig, writeConfigAtomic } from './file.js';

const NO_ENV = {};
const ORIGINAL = `# commissioned 2026-11-30 by the field tech
gatewayId: gw-file-1
dataDir: /var/lib/fieldline
mqtt:
  port: 1883 # the cabinet's sensors are fixed to this
api:
  adminToken: local-admin-token-0123456789
`;

describe('config/file', () => {
  const root = mkdtempSync(join(tmpdir(), 'fieldline-cfgfile-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = (text = ORIGINAL): string => {
    const dir = join(root, String(n++));
    const file = join(dir, 'gateway.yaml');
    writeConfigAtomic(file, text, 0);
    return file;
  };

  it('a valid patch is written 0600 with the previous file kept byte for byte as .bak', () => {
    const file = fresh();
    const r = editConfigFile(file, { mqtt: { maxPayloadBytes: 1024 } }, { env: NO_ENV });
    assert.equal(r.changed, true);
    assert.equal(r.backup, `${file}.bak`);
    assert.equal(readFileSync(`${file}.bak`, 'utf8'), ORIGINAL);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(`${file}.bak`).mode & 0o777, 0o600);
    assert.equal(readRawConfig(file).raw.mqtt && (readRawConfig(file).raw.mqtt as { maxPayloadBytes: number }).maxPayloadBytes, 1024);
    assert.equal(r.config.mqtt.maxPayloadBytes, 1024);
    assert.deepEqual(readdirSync(join(file, '..')).sort(), ['gateway.yaml', 'gateway.yaml.bak'], 'no temporary file left behind');
  });

  it('comments and key order the tech wrote survive an edit', () => {
    const file = fresh();
    editConfigFile(file, { mqtt: { maxPayloadBytes: 2048 }, logLevel: 'debug' }, { env: NO_ENV });
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^# commissioned 2026-11-30 by the field tech/);
    assert.match(text, /port: 1883 # the cabinet's sensors are fixed to this/);
    assert.ok(text.indexOf('gatewayId') < text.indexOf('mqtt'));
  });

  it('an invalid patch throws naming key, value and expectation, and leaves the file and its backups untouched', () => {
    const file = fresh();
    const before = readFileSync(file);
    assert.throws(
      () => editConfigFile(file, { mqtt: { maxPayloadBytes: 'lots' }, modbus: { bogus: 1 } }, { env: NO_ENV }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'FL_ERR_CONFIG_INVALID');
        const paths = err.issues.map((i) => i.path);
        assert.ok(paths.includes('mqtt.maxPayloadBytes'), JSON.stringify(err.issues));
        assert.ok(paths.includes('modbus.bogus'), JSON.stringify(err.issues));
        assert.match(err.message, /mqtt\.maxPayloadBytes: .*number.*\(got "lots"\)/);
        return true;
      },
    );
    assert.deepEqual(readFileSync(file), before);
    assert.equal(existsSync(`${file}.bak`), false);
  });

  it('backups rotate: .bak is the previous file, .bak.1 … .bak.3 older ones, the oldest dropped', () => {
    const file = fresh();
    const seen: string[] = [readFileSync(file, 'utf8')];
    for (let i = 1; i <= 6; i++) {
      editConfigFile(file, { pipeline: { maxMetricsPerReading: i } }, { env: NO_ENV });
      seen.push(readFileSync(file, 'utf8'));
    }
    assert.equal(readFileSync(`${file}.bak`, 'utf8'), seen[5]);
    assert.equal(readFileSync(`${file}.bak.1`, 'utf8'), seen[4]);
    assert.equal(readFileSync(`${file}.bak.2`, 'utf8'), seen[3]);
    assert.equal(readFileSync(`${file}.bak.3`, 'utf8'), seen[2]);
    assert.equal(existsSync(`${file}.bak.4`), false);
  });

  it('a patch that changes nothing writes nothing, and a dry run never writes', () => {
    const file = fresh();
    const r = editConfigFile(file, { mqtt: { port: 1883 } }, { env: NO_ENV });
    assert.equal(r.changed, false);
    assert.equal(r.backup, null);
    const d = editConfigFile(file, { mqtt: { port: 1999 } }, { env: NO_ENV, dryRun: true });
    assert.equal(d.config.mqtt.port, 1999);
    assert.equal(readFileSync(file, 'utf8'), ORIGINAL);
    assert.equal(existsSync(`${file}.bak`), false);
  });

  it('a missing file is created from the patch; the environment counts in the check and its keys are listed', () => {
    const file = join(root, 'new', 'gw.yaml');
    const env = { FIELDLINE_GATEWAY_KAFKA__BROKERS: 'env-broker:9092', FIELDLINE_GATEWAY_MQTT__PORT: '2883' };
    const r = editConfigFile(file, { gatewayId: 'gw-new' }, { env });
    assert.equal(r.backup, null);
    assert.equal(r.config.kafka.brokers, 'env-broker:9092');
    assert.equal(readRawConfig(file).raw.kafka, undefined, 'environment values are not written into the file');
    assert.deepEqual(envOverrideKeys(env), ['kafka.brokers', 'mqtt.port']);
    assert.equal(configWritable(file), true);
  });

  it('a secret sent back as ******** keeps its stored value in the file', () => {
    const file = fresh();
    editConfigFile(file, { api: { adminToken: '********' }, logLevel: 'warn' }, { env: NO_ENV });
    assert.equal((readRawConfig(file).raw.api as { adminToken: string }).adminToken, 'local-admin-token-0123456789');
  });

  it('a file broken by hand is reported, not overwritten', () => {
    const file = fresh();
    writeFileSync(file, 'mqtt: [unclosed\n');
    assert.throws(() => editConfigFile(file, { logLevel: 'warn' }, { env: NO_ENV }), /not valid YAML/);
    assert.equal(readFileSync(file, 'utf8'), 'mqtt: [unclosed\n');
  });
});
