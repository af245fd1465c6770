// Issue 3, acceptance 5: every refusal is counted per device and shows in GET /status and in the
// heartbeat. One real gateway (MQTT with logins, CoAP, Modbus/TCP against the simulator slave) is
// given one refusal of each kind; the test reads them back from the local API and from the
// heartbeat as it goes on the wire (encoded, LZ4-framed, decoded).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startModbusTcpSlave, type ModbusTcpSlave } from '../../firmware-sim/src/modbus-slave.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import { Code, Opt, encodeMessage, type CoapMessage } from '../../gateway/src/ingest/coap/message.js';
import { decodeHeartbeat, encodeHeartbeat } from '../../proto/src/wire.js';
import { RawClient } from '../coap/support.js';
import { freePort } from '../../devstack/net.js';

interface Status {
  deviceLoss: Record<string, { quarantined: number; rateLimited: number }>;
  deviceRefusals: Record<string, Record<string, number>>;
  refusals: Record<string, number>;
  adapters: { name: string; counters?: Record<string, number> }[];
  modbus: { buses: { devices: { deviceId: string; ok: number; timeout: number; exception: Record<string, number>; readings: { accepted: number; refused: number } }[] }[] };
}

describe('refusals are counted per device in GET /status and in the heartbeat', () => {
  let gw: Gateway;
  let slave: ModbusTcpSlave;
  let dir: string;

  const status = async (): Promise<Status> => {
    const res = await fetch(`http://127.0.0.1:${gw.apiPort}/status`, { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as Status;
  };
  const until = async (check: (s: Status) => boolean, what: string): Promise<Status> => {
    const end = Date.now() + 15_000;
    for (;;) {
      const s = await status();
      if (check(s)) return s;
      if (Date.now() > end) assert.fail(`${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-refusals-'));
    slave = await startModbusTcpSlave({
      units: {
        1: { values: [{ table: 'holdingRegisters', address: 0, type: 'float32', value: 21.5 }] },
        // Answers every read with exception 2, illegal data address.
        2: { size: 1 },
        3: { fault: { kind: 'silent' } },
        4: { values: [{ table: 'holdingRegisters', address: 0, type: 'float32', value: 400 }] },
      },
    });
    const group = (metric: string) => [{ pollIntervalMs: 100, tags: [{ metric, function: 3, address: 0, type: 'float32' }] }];
    gw = new Gateway(
      gatewayConfigSchema.parse({
        gatewayId: 'gw-refusals',
        dataDir: dir,
        logLevel: 'silent',
        mqtt: { host: '127.0.0.1', port: await freePort(), persistSessions: false, credentials: [{ username: 'meter-7', password: 'correct horse' }] },
        coap: { host: '127.0.0.1', port: 0 },
        modbus: {
          enabled: true,
          buses: [{
            name: 'plant', type: 'tcp', host: '127.0.0.1', port: slave.port,
            devices: [
              { deviceId: 'mb-good', unitId: 1, tagGroups: group('flow') },
              { deviceId: 'mb-exception', unitId: 2, tagGroups: [{ pollIntervalMs: 100, tags: [{ metric: 'flow', function: 3, address: 4, type: 'float32' }] }] },
              { deviceId: 'mb-silent', unitId: 3, timeoutMs: 150, retries: 0, tagGroups: group('flow') },
              { deviceId: 'mb-hot', unitId: 4, tagGroups: group('temperature') },
            ],
          }],
        },
        kafka: { brokers: `127.0.0.1:${await freePort()}` },
        api: { host: '127.0.0.1', port: 0 },
      }),
      pino({ level: 'silent' }),
    );
    await gw.start();
  });

  after(async () => {
    await gw?.stop();
    await slave?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('MQTT: a bad login, a forbidden subscription and a bad payload are each counted against the device', async () => {
    const url = `mqtt://127.0.0.1:${gw.cfg.mqtt.port}`;
    await assert.rejects(mqtt.connectAsync(url, { clientId: 'meter-7', username: 'meter-7', password: 'wrong', reconnectPeriod: 0 }));
    const c = await mqtt.connectAsync(url, { clientId: 'mq-dev', reconnectPeriod: 0 });
    try {
      // MQTT.js rejects when the SUBACK grants 0x80 (failure) for the subscription.
      await assert.rejects(c.subscribeAsync('devices/other/#', { qos: 1 }), (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0] === 128);
      await c.publishAsync('devices/mq-dev/telemetry', 'not json', { qos: 1 });
    } finally {
      await c.endAsync(true);
    }
    const s = await until((x) => x.deviceRefusals['mq-dev']?.FL_ERR_DECODE_JSON === 1, 'mq-dev refusals');
    assert.deepEqual(s.deviceRefusals['meter-7'], { FL_ERR_MQTT_AUTH: 1 });
    assert.deepEqual(s.deviceRefusals['mq-dev'], { FL_ERR_MQTT_ACL_DENIED: 1, FL_ERR_DECODE_JSON: 1 });
    assert.equal(s.deviceLoss['mq-dev']?.quarantined, 1, 'only the payload was a lost reading');
    const counters = s.adapters.find((a) => a.name === 'mqtt')?.counters;
    assert.equal(counters?.refusedConnections, 1);
    assert.equal(counters?.refusedSubscriptions, 1);
  });

  it('CoAP: a bad payload counts against its device; a request for another resource counts gateway-wide', async () => {
    const client = await RawClient.open(gw.coap!.boundPort);
    try {
      const bad = client.post('coap-dev', Buffer.from('{"metrics":'), { contentFormat: 50 });
      assert.equal((await client.response(bad)).code, Code.BAD_REQUEST);
      const elsewhere: CoapMessage = { type: 'CON', code: Code.POST, messageId: 4242, token: Buffer.from([9, 9]), options: [{ number: Opt.URI_PATH, value: Buffer.from('nowhere') }], payload: Buffer.alloc(0) };
      await client.sendRaw(encodeMessage(elsewhere));
      assert.equal((await client.response(elsewhere)).code, Code.NOT_FOUND);
    } finally {
      await client.close();
    }
    const s = await until((x) => (x.refusals.FL_ERR_COAP_NOT_FOUND ?? 0) === 1, 'coap refusals');
    assert.deepEqual(s.deviceRefusals['coap-dev'], { FL_ERR_DECODE_JSON: 1 });
    assert.equal(s.adapters.find((a) => a.name === 'coap')?.counters?.refused, 1);
  });

  it('Modbus: per-slave ok, timeout and exception counters, and an out-of-range reading quarantined', async () => {
    const s = await until((x) => {
      const d = Object.fromEntries(x.modbus.buses[0]!.devices.map((v) => [v.deviceId, v]));
      // A poll counts as ok when read and as accepted only once committed, a moment later.
      return d['mb-good']!.ok >= 3 && d['mb-good']!.readings.accepted >= 3 && d['mb-silent']!.timeout >= 1 && (d['mb-exception']!.exception['2'] ?? 0) >= 1 && d['mb-hot']!.readings.refused >= 1;
    }, 'modbus counters');
    const d = Object.fromEntries(s.modbus.buses[0]!.devices.map((v) => [v.deviceId, v]));
    assert.equal(d['mb-good']!.timeout, 0, 'a silent neighbour costs the good slave no timeouts');
    assert.ok((s.deviceRefusals['mb-hot']?.FL_ERR_VALIDATE_OUT_OF_RANGE ?? 0) >= 1, JSON.stringify(s.deviceRefusals));
    const counters = s.adapters.find((a) => a.name === 'modbus')?.counters ?? {};
    assert.ok((counters['mb-silent.timeout'] ?? 0) >= 1, JSON.stringify(counters));
    assert.ok((counters['mb-exception.exception.2'] ?? 0) >= 1, JSON.stringify(counters));
  });

  it('the heartbeat on the wire carries the same per-device refusals, loss and adapter counters', async () => {
    const s = await status();
    const hb = decodeHeartbeat(encodeHeartbeat(gw.heartbeatMessage()).value);
    assert.equal(hb.gatewayId, 'gw-refusals');
    for (const device of ['meter-7', 'mq-dev', 'coap-dev']) {
      const got = Object.fromEntries(Object.entries(hb.deviceRefusals[device]?.byReason ?? {}).map(([k, v]) => [k, Number(v)]));
      assert.deepEqual(got, s.deviceRefusals[device], device);
    }
    assert.equal(Number(hb.deviceLoss['mq-dev']?.quarantined), 1);
    assert.equal(Number(hb.refusals.FL_ERR_COAP_NOT_FOUND), 1);
    const modbus = hb.adapters.find((a) => a.name === 'modbus');
    assert.ok(Number(modbus?.counters?.['mb-silent.timeout'] ?? 0) >= 1);
    assert.ok(Number(modbus?.counters?.['mb-good.ok'] ?? 0) >= 3);
    assert.equal(Number(hb.adapters.find((a) => a.name === 'mqtt')?.counters?.refusedConnections), 1);
  });
});
