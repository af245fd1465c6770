// The field-tech commands of fieldline-gateway that need no devices: hash-password and outbox stats.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CredentialStore } from '../ingest/mqtt/credentials.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { v1 } from '../../../proto/src/wire.js';

const MAIN = join(import.meta.dirname, 'main.js');
const cli = (args: string[], input = '', env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], { input, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });

describe('fieldline-gateway field-tech commands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hash-password prints an scrypt hash the MQTT login check accepts, and not the password', () => {
    const r = cli(['hash-password'], 'correct horse\n');
    assert.equal(r.status, 0, r.stderr);
    const hash = r.stdout.trim();
    assert.match(hash, /^scrypt:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.ok(!hash.includes('correct'));
    const store = new CredentialStore([{ username: 'meter-7', password: hash }]);
    assert.equal(store.check('meter-7', Buffer.from('correct horse')), 'meter-7');
    assert.equal(store.check('meter-7', Buffer.from('correct horse\n')), null, 'the trailing newline was not hashed');
  });

  it('hash-password with nothing on stdin is a usage error', () => {
    const r = cli(['hash-password'], '');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /expected the password on stdin/);
  });

  it('outbox stats reads a live outbox without changing it, and says so when there is none', async () => {
    const env = { FIELDLINE_GATEWAY_DATA_DIR: dir };
    const none = cli(['outbox', 'stats'], '', env);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no outbox at/);
    const o = new SqliteOutbox({ path: join(dir, 'outbox.db') });
    await o.append([{ deviceId: 'd1', tsMs: 1, metrics: { a: 1, b: 2 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT }]);
    const before = readdirSync(dir).sort();
    const r = cli(['outbox', 'stats'], '', env);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { depthMessages: number; depthValues: number; recovery: unknown };
    assert.equal(s.depthMessages, 1);
    assert.equal(s.depthValues, 2);
    assert.equal(s.recovery, null);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no file created, moved or removed');
    await o.append([{ deviceId: 'd1', tsMs: 2, metrics: { a: 1 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT }]);
    assert.equal(o.stats().depthMessages, 2, 'the outbox in use is unharmed');
    o.close();
  });
});
