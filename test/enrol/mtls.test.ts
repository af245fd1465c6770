// Issue 13, acceptance 3: `fieldline-gateway device add` issues a certificate that mosquitto_pub
// uses to publish over mutual TLS, and after `device revoke` the same certificate is refused —
// against a real gateway process (the built CLI) whose MQTT TLS listener runs on its own CA, with
// devices.autoRegister off so only enrolled devices get in. Kafka is unreachable on purpose: what
// was accepted stays in the outbox, where the test reads it.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePorts, removeOnExit, repoRoot, run, runOk, spawnLogged, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { addDevice } from '../../gateway/src/pki/enrol.js';

const MAIN = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const TOKEN = 'enrol-test-admin-token';

interface ClientRow {
  clientId: string;
  deviceId: string;
  listener: string;
  remoteAddress: string;
  connectedAt: string;
  certificateSerial?: string;
}

describe('device enrolment over mutual TLS with the gateway CA', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-enrol-'));
  const keep = removeOnExit(dir);
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'gateway.yaml');
  const devices = join(dir, 'devices');
  let gw: LoggedProcess;
  let tlsPort = 0;
  let apiPort = 0;
  const subscribers: LoggedProcess[] = [];

  const cli = (...args: string[]) => run(process.execPath, [MAIN, ...args, '--config', configFile], { timeoutMs: 60_000 });
  const api = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.status, body: (await res.json()) as T };
  };
  const publish = (certDir: string, id: string, value: number) =>
    run('mosquitto_pub', [
      '-h', '127.0.0.1', '-p', String(tlsPort), '--cafile', join(devices, 'ca.crt'),
      '--cert', join(certDir, `${id}.crt`), '--key', join(certDir, `${id}.key`),
      '-q', '1', '-i', `pub-${id}`, '-t', `devices/${id}/telemetry`, '-m', JSON.stringify({ metrics: { temperature: value } }),
    ], { timeoutMs: 20_000 });
  /** Device ids of the readings in the outbox, oldest first (read-only, beside the running gateway). */
  const outbox = (): string[] => {
    const db = new Database(join(dataDir, 'outbox.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT device_id FROM readings ORDER BY id').all() as { device_id: string }[]).map((r) => r.device_id);
    } finally {
      db.close();
    }
  };
  const count = (id: string) => outbox().filter((d) => d === id).length;

  before(async () => {
    let mqttPort: number;
    [mqttPort, tlsPort, apiPort] = (await freePorts(3)) as [number, number, number];
    writeFileSync(configFile, JSON.stringify({
      gatewayId: 'gw-enrol',
      dataDir,
      logLevel: 'info',
      mqtt: { host: '127.0.0.1', port: mqttPort, persistSessions: false, tls: { enabled: true, port: tlsPort } },
      coap: { enabled: false },
      devices: { autoRegister: false },
      api: { host: '127.0.0.1', port: apiPort, adminToken: TOKEN },
      kafka: { brokers: '127.0.0.1:1', heartbeatIntervalMs: 60_000 },
    }));
    gw = spawnLogged(process.execPath, [MAIN, '--config', configFile], { logDir: dir, logName: 'gateway.log', truncate: true });
    await waitUntil(async () => (await api('/status').catch(() => ({ status: 0 }))).status === 200, { what: 'the gateway', timeoutMs: 60_000, process: gw });
  });

  after(async () => {
    for (const s of subscribers) await s.stop();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
    keep();
  });

  it('the gateway made its own CA at start, with the CA key readable only by its user', () => {
    assert.ok(existsSync(join(dataDir, 'pki', 'ca.crt')));
    assert.equal(statSync(join(dataDir, 'pki', 'ca.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'pki')).mode & 0o777, 0o700);
    assert.match(readFileSync(gw.logFile, 'utf8'), /created the gateway device CA/);
  });

  it('device add (gateway running) issues sensor-1 a certificate that mosquitto_pub publishes with over mutual TLS; the reading reaches the outbox', async () => {
    const added = await runOk(process.execPath, [MAIN, 'device', 'add', 'sensor-1', '--out', devices, '--config', configFile]);
    assert.match(added.stdout, /issued a certificate to sensor-1: serial [0-9A-F]{32}/);
    assert.match(added.stdout, /mosquitto_pub -h <gateway> -p \d+ --cafile .*ca\.crt --cert .*sensor-1\.crt --key .*sensor-1\.key/);
    await runOk(process.execPath, [MAIN, 'device', 'add', 'sensor-2', '--out', devices, '--config', configFile]);
    const r = await publish(devices, 'sensor-1', 21.5);
    assert.equal(r.code, 0, r.stderr);
    // QoS 1: mosquitto_pub exits after the PUBACK, which the gateway sends after the commit.
    assert.equal(count('sensor-1'), 1);
  });

  it('refuses a certificate for the same device id from another CA (the TLS handshake fails)', async () => {
    const rogue = join(dir, 'rogue');
    await addDevice({ dataDir: join(rogue, 'data'), gatewayId: 'rogue', deviceId: 'sensor-1', outDir: rogue });
    const r = await publish(rogue, 'sensor-1', 99);
    assert.notEqual(r.code, 0);
    assert.equal(count('sensor-1'), 1, 'nothing new in the outbox');
  });

  it('GET /mqtt/clients lists a connected mosquitto_sub with its device, listener and certificate serial; GET /pki/devices lists the certificates', async () => {
    const sub = spawnLogged('mosquitto_sub', [
      '-h', '127.0.0.1', '-p', String(tlsPort), '--cafile', join(devices, 'ca.crt'),
      '--cert', join(devices, 'sensor-2.crt'), '--key', join(devices, 'sensor-2.key'), '-i', 'sub-2', '-t', 'devices/sensor-2/commands',
    ], { logDir: dir, logName: 'mosquitto_sub.log' });
    subscribers.push(sub);
    const pki = await api<{ devices: { deviceId: string; serial: string; state: string; notAfter: string }[] }>('/pki/devices');
    assert.equal(pki.status, 200);
    assert.deepEqual(pki.body.devices.map((d) => [d.deviceId, d.state]), [['sensor-1', 'valid'], ['sensor-2', 'valid']]);
    const serial2 = pki.body.devices[1]!.serial;
    let row: ClientRow | undefined;
    await waitUntil(async () => {
      row = (await api<{ clients: ClientRow[] }>('/mqtt/clients')).body.clients.find((c) => c.clientId === 'sub-2');
      return row !== undefined;
    }, { what: 'mosquitto_sub in GET /mqtt/clients', timeoutMs: 20_000, process: sub });
    assert.equal(row!.deviceId, 'sensor-2');
    assert.equal(row!.listener, 'tls');
    assert.equal(row!.remoteAddress, '127.0.0.1');
    assert.equal(row!.certificateSerial, serial2);
    assert.ok(Math.abs(Date.parse(row!.connectedAt) - Date.now()) < 120_000);
  });

  it('after device revoke, the same mosquitto_pub is refused (CONNACK not authorised) while sensor-2 still publishes, without a restart', async () => {
    const revoked = await cli('device', 'revoke', 'sensor-1', '--reason', 'keyCompromise');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked sensor-1 certificate [0-9A-F]{32}/);
    const r = await publish(devices, 'sensor-1', 22.5);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /not authori[sz]ed/i);
    assert.equal(count('sensor-1'), 1, 'nothing new in the outbox');
    const ok = await publish(devices, 'sensor-2', 23.5);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(count('sensor-2'), 1);
    const status = await api<{ refusals: Record<string, number>; deviceRefusals: Record<string, Record<string, number>> }>('/status');
    assert.ok((status.body.refusals.FL_ERR_MQTT_CERT_REVOKED ?? 0) >= 1, JSON.stringify(status.body.refusals));
    assert.ok((status.body.deviceRefusals['sensor-1']?.FL_ERR_MQTT_CERT_REVOKED ?? 0) >= 1);
    assert.match(readFileSync(gw.logFile, 'utf8'), /FL_ERR_MQTT_CERT_REVOKED.*was revoked/);
    const list = await cli('device', 'list');
    assert.match(list.stdout, /sensor-1\s+[0-9A-F]{32}\s+\S+\s+revoked/);
    assert.match(list.stdout, /sensor-2\s+[0-9A-F]{32}\s+\S+\s+valid/);
  });

  it('revoking a device that is connected closes its connection', async () => {
    const revoked = await cli('device', 'revoke', 'sensor-2');
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitUntil(async () => !(await api<{ clients: ClientRow[] }>('/mqtt/clients')).body.clients.some((c) => c.deviceId === 'sensor-2'), {
      what: 'sensor-2 gone from GET /mqtt/clients', timeoutMs: 20_000,
    });
    assert.match(readFileSync(gw.logFile, 'utf8'), /certificate revoked; closing the connection/);
  });
});
