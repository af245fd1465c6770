// Applying one cloud version to a running gateway (a fake one here: reconfigure and adapter states
// are scripted) — what is refused, when the whole previous config comes back, and what the file holds.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ApplyResult } from '../config/apply.js';
import type { GatewayConfig } from '../config/schema.js';
import { validateRaw } from '../config/file.js';
import type { AdapterStatus } from '../ingest/adapter.js';
import { adaptersStillDown, applyVersion, mergeSections, type ApplyVersionDeps } from './apply-version.js';
import type { CloudConfigMessage } from './message.js';

const dir = mkdtempSync(join(tmpdir(), 'fl-cloudapply-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const BASE = {
  gatewayId: 'gw-1',
  dataDir: dir,
  mqtt: { port: 18831, credentials: [{ username: 'dev', password: 'hunter22' }] },
  modbus: { enabled: true, buses: [{ type: 'tcp', host: '127.0.0.1', port: 1502, devices: [{ deviceId: 'm1', tagGroups: [{ tags: [{ metric: 'a', function: 3, address: 0 }] }] }] }] },
};
const NEW_MODBUS = { enabled: true, buses: [{ type: 'tcp', host: '127.0.0.1', port: 1502, devices: [{ deviceId: 'm1', tagGroups: [{ tags: [{ metric: 'b', function: 3, address: 7 }] }] }] }] };

const msg = (over: Partial<CloudConfigMessage> = {}): CloudConfigMessage => ({
  gateway_id: 'gw-1', version: 1, issued_ms: 1, issued_by: 'ops', section: 'modbus', config: NEW_MODBUS, ...over,
});

interface Fake {
  deps: ApplyVersionDeps;
  calls: GatewayConfig[];
  file: string;
  states: AdapterStatus[];
}

function fake(name: string, script: { failFirst?: string; after?: AdapterStatus[] } = {}): Fake {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(BASE));
  let running = validateRaw(BASE, {});
  const calls: GatewayConfig[] = [];
  const f: Fake = {
    file,
    calls,
    states: [{ name: 'mqtt', state: 'up', detail: '' }, { name: 'modbus', state: 'up', detail: 'bus open' }],
    deps: {
      file, env: {}, verifyMs: 1_000, log: pino({ level: 'silent' }),
      running: () => running,
      reconfigure: async (next): Promise<ApplyResult> => {
        calls.push(next);
        running = next;
        if (calls.length === 1 && script.after) f.states = script.after;
        if (calls.length === 1 && script.failFirst) return { applied: [], restartRequired: [], failed: [{ part: 'modbus', code: 'FL_ERR_CONFIG_APPLY', message: script.failFirst }] };
        return { applied: ['modbus'], restartRequired: [], failed: [] };
      },
      adapterStates: () => f.states,
      // A virtual clock: each wait moves it on, so the verification's deadline comes without sleeping.
      ...(() => {
        let t = 0;
        return { now: () => t, sleep: async (ms: number) => void (t += ms) };
      })(),
    },
  };
  return f;
}

describe('applying a cloud config version', () => {
  it('a section replaces the file\'s section whole; the other sections and the secrets stay', () => {
    const { raw, problems } = mergeSections(BASE, msg({ section: 'mqtt', config: { port: 18832, credentials: [{ username: 'dev', password: '********' }] } }));
    assert.deepEqual(problems, []);
    assert.deepEqual(raw.mqtt, { port: 18832, credentials: [{ username: 'dev', password: 'hunter22' }] }, 'REDACTED stands for the stored password');
    assert.deepEqual(raw.modbus, BASE.modbus);
  });

  it('a version that fails the start-up checks is refused before anything runs, and the file is untouched', async () => {
    const f = fake('invalid');
    const before = readFileSync(f.file, 'utf8');
    const out = await applyVersion(f.deps, msg({ config: { enabled: true, buses: [{ type: 'tcp', host: '127.0.0.1', port: 70000, devices: [] }] } }));
    assert.equal(out.ok, false);
    assert.equal(!out.ok && out.code, 'FL_ERR_CONFIG_CLOUD_INVALID');
    assert.match(!out.ok ? out.message : '', /modbus\.buses\.0\.port/);
    assert.equal(f.calls.length, 0, 'reconfigure never ran');
    assert.equal(readFileSync(f.file, 'utf8'), before);
  });

  it('an adapter that fails to start with it brings the whole previous config back, and the file stays as it was', async () => {
    const f = fake('fails', { failFirst: 'EADDRINUSE' });
    const before = readFileSync(f.file, 'utf8');
    const prev = f.deps.running();
    const out = await applyVersion(f.deps, msg());
    assert.equal(!out.ok && out.code, 'FL_ERR_CONFIG_CLOUD_FAILED');
    assert.match(!out.ok ? out.message : '', /modbus: EADDRINUSE; the previous config runs again/);
    assert.equal(f.calls.length, 2);
    assert.equal(f.calls[1], prev, 'the second reconfigure is the previous config itself, every section');
    assert.equal(readFileSync(f.file, 'utf8'), before);
  });

  it('an adapter that starts but is still down when verifyMs is over fails the version the same way', async () => {
    const f = fake('down', { after: [{ name: 'mqtt', state: 'up', detail: '' }, { name: 'modbus', state: 'down', detail: 'rtu-1 closed' }] });
    const out = await applyVersion(f.deps, msg());
    assert.equal(!out.ok && out.code, 'FL_ERR_CONFIG_CLOUD_FAILED');
    assert.match(!out.ok ? out.message : '', /modbus is down with the new settings \(rtu-1 closed\) 1 s after it started/);
    assert.equal(f.calls.length, 2);
  });

  it('a version that runs is written to the file, with the file\'s other settings as they were', async () => {
    const f = fake('ok');
    const out = await applyVersion(f.deps, msg());
    assert.deepEqual(out, { ok: true, applied: ['modbus'] });
    assert.equal(f.calls.length, 1);
    const written = JSON.parse(JSON.stringify((await import('yaml')).parse(readFileSync(f.file, 'utf8'))));
    assert.deepEqual(written.modbus, NEW_MODBUS);
    assert.deepEqual(written.mqtt, BASE.mqtt);
  });

  it('without a config file nothing is applied', async () => {
    const f = fake('nofile');
    const out = await applyVersion({ ...f.deps, file: null }, msg());
    assert.equal(!out.ok && out.code, 'FL_ERR_CONFIG_NO_FILE');
    assert.equal(f.calls.length, 0);
  });
});

describe('the rollback decision after the wait', () => {
  const up = (name: string): AdapterStatus => ({ name, state: 'up', detail: '' });
  const down = (name: string): AdapterStatus => ({ name, state: 'down', detail: 'closed' });
  it('fails an adapter the version restarted that is down now and was not before', () => {
    assert.deepEqual(adaptersStillDown(['modbus'], [up('modbus')], [down('modbus')]), ['modbus is down with the new settings (closed)']);
  });
  it('does not blame the version for an adapter that was down already, or one it did not touch, or a degraded one', () => {
    assert.deepEqual(adaptersStillDown(['modbus'], [down('modbus')], [down('modbus')]), []);
    assert.deepEqual(adaptersStillDown(['coap'], [up('modbus')], [down('modbus')]), []);
    assert.deepEqual(adaptersStillDown(['modbus'], [up('modbus')], [{ name: 'modbus', state: 'degraded', detail: '' }]), []);
  });
  it('an adapter the version enabled counts when it is down', () => {
    assert.deepEqual(adaptersStillDown(['coap'], [], [down('coap')]), ['coap is down with the new settings (closed)']);
  });
});
