// fieldline-gateway device …, the built CLI: bad command lines exit 2 with the usage, refusals exit
// 1 naming their FL_ERR code, and list works before any certificate exists (the mTLS test in
// test/enrol covers add and revoke against a running gateway).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot, run } from '../../../devstack/net.js';

const MAIN = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'fieldline-device-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'gw.yaml');
writeFileSync(config, JSON.stringify({ gatewayId: 'gw-cli', dataDir: join(dir, 'data'), logLevel: 'silent' }));
const device = (...args: string[]) => run(process.execPath, [MAIN, 'device', ...args, '--config', config], { timeoutMs: 60_000 });

describe('fieldline-gateway device', () => {
  it('bad command lines exit 2 with the usage', async () => {
    for (const args of [[], ['add'], ['frobnicate'], ['list', 'extra'], ['add', 'a', 'b'], ['add', 's-1', '--days', 'ten'], ['add', 's-1', '--bogus']]) {
      const r = await device(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout + r.stderr, /usage:|--days: expected a whole number/);
    }
  });

  it('list before any enrolment says so; revoke before there is a CA exits 1 with FL_ERR_PKI_NO_CA', async () => {
    const list = await device('list');
    assert.equal(list.code, 0);
    assert.match(list.stdout, /no device certificates issued yet/);
    const revoke = await device('revoke', 'sensor-9');
    assert.equal(revoke.code, 1);
    assert.match(revoke.stderr, /FL_ERR_PKI_NO_CA/);
  });

  it('add refuses an id outside the device id rule, and a second certificate without --renew', async () => {
    const bad = await device('add', 'no spaces', '--out', dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /FL_ERR_INGEST_DEVICE_ID.*"no spaces"/);
    assert.equal((await device('add', 'sensor-9', '--out', dir)).code, 0);
    const again = await device('add', 'sensor-9', '--out', dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /FL_ERR_PKI_ALREADY_ENROLLED.*sensor-9 holds serial [0-9A-F]{32}/);
    const json = JSON.parse((await device('list', '--json')).stdout) as { devices: { deviceId: string; state: string }[] };
    assert.deepEqual(json.devices.map((d) => [d.deviceId, d.state]), [['sensor-9', 'valid']]);
  });
});
