// One reading from a sensor to the query API, through a real Kafka broker and the embedded
// TimescaleDB (issue 2, acceptance 2, 3, 5, 6).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { startMqttFleet } from '../../firmware-sim/src/mqtt-sensor.js';
import { coapClient } from '../coap/support.js';
import { exactlyOnce, startStack, type Stack } from '../../devstack/stack.js';
import { COLUMNS_SCHEMA_VERSION } from '../../proto/src/wire.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');

async function mosquittoPub(stack: Stack, deviceId: string, payload: string): Promise<void> {
  const url = new URL(stack.mqttUrl);
  await run('mosquitto_pub', ['-h', url.hostname, '-p', url.port, '-q', '1', '-i', deviceId, '-t', `devices/${deviceId}/telemetry`, '-m', payload]);
}

async function localStatus(stack: Stack): Promise<{
  deviceLoss: Record<string, { quarantined: number }>; refusals: Record<string, number>; cloud: { link: string }; outbox: { quarantinePending: number };
}> {
  const res = await fetch(`http://127.0.0.1:${stack.gateway.apiPort}/status`, { headers: { authorization: `Bearer ${stack.gateway.token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as never;
}

describe('spine: MQTT → outbox → Kafka → TimescaleDB → API', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it('readings published with mosquitto_pub -q 1 are found exactly once through the API', async () => {
    const now = Date.now();
    for (let seq = 1; seq <= 20; seq++) {
      await mosquittoPub(stack, 'mosq-1', JSON.stringify({ ts: now - 1000 + seq, metrics: { seq, temperature: 20 + seq / 10 } }));
    }
    const seqs = await stack.waitFor(() => stack.seqsOf('mosq-1'), (s) => s.length >= 20, 30_000);
    assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i + 1));
    const res = await fetch(`${stack.apiUrl}/v1/devices/mosq-1/readings?metric=temperature&from=0`, { headers: { authorization: `Bearer ${stack.token}` } });
    const body = (await res.json()) as { device_id: string; metric: string; readings: { ts: string; value: number }[] };
    assert.equal(body.device_id, 'mosq-1');
    assert.equal(body.metric, 'temperature');
    assert.equal(body.readings[0]!.ts, new Date(now - 999).toISOString());
    assert.equal(body.readings[0]!.value, 20.1);
  });

  it('readings published by MQTT.js sensors at QoS 1 are found exactly once through the API', async () => {
    const acked = new Map<string, number[]>();
    const fleet = await startMqttFleet({
      url: stack.mqttUrl, sensors: 5, rate: 50, qos: 1, prefix: 'mqttjs',
      onAck: (d, s) => acked.set(d, [...(acked.get(d) ?? []), s]),
    });
    try {
      await new Promise((r) => setTimeout(r, 3_000));
    } finally {
      await fleet.stop();
    }
    assert.ok(fleet.stats.acked >= 500, `acked ${fleet.stats.acked}`);
    for (const [device, seqs] of acked) {
      const stored = await stack.waitFor(() => stack.seqsOf(device), (s) => s.length >= seqs.length, 30_000);
      assert.deepEqual(exactlyOnce(seqs, stored), { missing: [], doubled: [] }, device);
    }
  });

  it('the batch on iot.readings opens with kcat, the lz4 CLI and protoc --decode, and holds what was published', async () => {
    await mosquittoPub(stack, 'kcat-1', JSON.stringify({ ts: Date.now() - 5, metrics: { seq: 1, voltage: 3.3 } }));
    await stack.waitFor(() => stack.seqsOf('kcat-1'), (s) => s.length === 1, 30_000);
    // List every message (partition, offset, key, headers), then open them newest first, one at a
    // time as raw bytes, until the batch holding kcat-1 turns up.
    const { stdout } = await run('kcat', ['-C', '-b', stack.kafka.bootstrap, '-t', 'iot.readings', '-o', 'beginning', '-e', '-q',
      '-f', '%p\t%o\t%k\t%h\n'], { maxBuffer: 16 * 1024 * 1024 });
    const listed = stdout.trim().split('\n').map((l) => l.split('\t')).reverse();
    assert.ok(listed.length > 0);
    let decoded = '';
    for (const [partition, offset, key, headers] of listed) {
      assert.equal(key, 'gw-e2e');
      assert.match(headers!, /content-encoding=lz4/);
      assert.match(headers!, /batch-seq=\d+/);
      const raw = await pipe('kcat', ['-C', '-b', stack.kafka.bootstrap, '-t', 'iot.readings', '-p', partition!, '-o', offset!, '-c', '1', '-e', '-q', '-f', '%s'], Buffer.alloc(0));
      const text = await lz4ThenProtoc(raw);
      if (text.includes('"kcat-1"')) {
        decoded = text;
        break;
      }
    }
    assert.ok(decoded, 'a batch with kcat-1 was found on iot.readings');
    assert.match(decoded, /gateway_id: "gw-e2e"/);
    assert.match(decoded, /device_id: "kcat-1"/);
    // The forwarder's default encoding (forward.encoding: columns): 3.3 is 33 at scale 1, readable from the .proto alone.
    assert.match(decoded, /metrics \{\s+name: "voltage"\s+scale: 1\s+scaled_delta: 33\s+\}/);
    assert.match(decoded, new RegExp(`schema_version: ${COLUMNS_SCHEMA_VERSION}\\b`));
  });

  it("libcoap's coap-client posts JSON readings that reach the database; a bad payload gets 4.00", async () => {
    const url = `coap://127.0.0.1:${stack.gateway.coap!.boundPort}/telemetry/coap-e2e`;
    for (const seq of [1, 2, 3]) {
      const r = await coapClient(['-m', 'post', '-t', '50', '-e', JSON.stringify({ metrics: { seq, temperature: 20 + seq } }), url]);
      assert.equal(r.code, '2.04', r.raw);
    }
    const bad = await coapClient(['-m', 'post', '-t', '50', '-e', '{"metrics":{"temperature":"warm"}}', url]);
    assert.equal(bad.code, '4.00', bad.raw);
    assert.match(bad.payload, /^FL_ERR_VALIDATE_NOT_NUMBER/);
    assert.deepEqual(await stack.waitFor(() => stack.seqsOf('coap-e2e'), (s) => s.length >= 3, 30_000), [1, 2, 3]);
  });

  it('refuses and counts bad input on MQTT while other devices keep being served', async () => {
    const client = await mqtt.connectAsync(stack.mqttUrl, { clientId: 'bad-1' });
    const bad = [
      'not json at all',
      '{"metrics":{"temperature":"21.5"}}',
      '{"metrics":{"temperature":NaN}}',
      '{"ts":1}',
      JSON.stringify({ metrics: { blob: 1 }, pad: 'x'.repeat(70_000) }),
    ];
    for (const payload of bad) await client.publishAsync('devices/bad-1/telemetry', payload, { qos: 1 });
    await client.endAsync();
    await mosquittoPub(stack, 'good-1', JSON.stringify({ metrics: { seq: 1 } }));
    assert.deepEqual(await stack.waitFor(() => stack.seqsOf('good-1'), (s) => s.length === 1, 30_000), [1]);
    const status = await localStatus(stack);
    assert.equal(status.deviceLoss['bad-1']?.quarantined, 5);
    for (const code of ['FL_ERR_DECODE_JSON', 'FL_ERR_VALIDATE_NOT_NUMBER', 'FL_ERR_VALIDATE_SHAPE', 'FL_ERR_INGEST_TOO_LARGE']) {
      assert.ok((status.refusals[code] ?? 0) >= 1, `${code} counted: ${JSON.stringify(status.refusals)}`);
    }
    assert.deepEqual(await stack.seqsOf('bad-1'), [], 'nothing of the bad device reached the database');

    // Each refused message is forwarded to iot.quarantine with its raw bytes and reason.
    const quarantined = await stack.waitFor(async () => {
      const { stdout } = await run('kcat', ['-C', '-b', stack.kafka.bootstrap, '-t', 'iot.quarantine', '-o', 'beginning', '-e', '-q',
        '-f', '%p\t%o\t%k\t%h\n'], { maxBuffer: 16 * 1024 * 1024 });
      return stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
    }, (rows) => rows.filter((r) => r[3]!.includes('reason-code=')).length >= 5, 30_000);
    const decoded: string[] = [];
    for (const [partition, offset, key, headers] of quarantined) {
      assert.equal(key, 'gw-e2e');
      assert.match(headers!, /content-encoding=lz4/);
      const raw = await pipe('kcat', ['-C', '-b', stack.kafka.bootstrap, '-t', 'iot.quarantine', '-p', partition!, '-o', offset!, '-c', '1', '-e', '-q', '-f', '%s'], Buffer.alloc(0));
      const text = await lz4ThenProtoc(raw, 'fieldline.v1.QuarantinedReading');
      if (text.includes('device_id: "bad-1"')) decoded.push(text);
    }
    assert.equal(decoded.length, 5, decoded.join('\n---\n'));
    assert.ok(decoded.some((t) => /raw: "not json at all"/.test(t) && /reason_code: "FL_ERR_DECODE_JSON"/.test(t)), decoded.join('\n---\n'));
    assert.ok(decoded.every((t) => /gateway_id: "gw-e2e"/.test(t) && /source: SOURCE_PROTOCOL_MQTT/.test(t)));
    const pending = await stack.waitFor(async () => (await localStatus(stack)).outbox.quarantinePending, (n) => n === 0, 10_000);
    assert.equal(pending, 0, 'forwarded records are marked so they are not sent again');
  });

  it('a 30 s Kafka outage while sensors publish loses no acknowledged reading and doubles none', { timeout: 240_000 }, async (t) => {
    const acked = new Map<string, number[]>();
    const fleet = await startMqttFleet({
      url: stack.mqttUrl, sensors: 4, rate: 25, qos: 1, prefix: 'outage',
      onAck: (d, s) => acked.set(d, [...(acked.get(d) ?? []), s]),
    });
    let down = 0;
    let up = 0;
    let linkDuringOutage = '';
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      await stack.kafka.stop();
      down = Date.now();
      linkDuringOutage = (await stack.waitFor(() => localStatus(stack), (s) => s.cloud.link === 'down', 20_000)).cloud.link;
      await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - down))));
    } finally {
      await stack.kafka.start();
      up = Date.now();
      await new Promise((r) => setTimeout(r, 2_000));
      await fleet.stop();
    }
    assert.equal(linkDuringOutage, 'down', 'the gateway reports the link down');
    const total = [...acked.values()].reduce((n, s) => n + s.length, 0);
    assert.ok(total > 3_000, `acked ${total} messages across the outage`);
    for (const [device, seqs] of acked) {
      const stored = await stack.waitFor(() => stack.seqsOf(device), (s) => s.length >= seqs.length, 120_000);
      assert.deepEqual(exactlyOnce(seqs, stored), { missing: [], doubled: [] }, device);
    }
    t.diagnostic(`broker down ${Math.round((up - down) / 1000)} s; backlog in the database ${Math.round((Date.now() - up) / 1000)} s after the restart`);
  });
});

async function lz4ThenProtoc(frame: Buffer, type = 'fieldline.v1.ReadingBatch'): Promise<string> {
  const lz4 = await pipe('lz4', ['-d', '-c'], frame);
  const text = await pipe('protoc', [`--proto_path=${join(ROOT, 'proto')}`, `--decode=${type}`, 'telemetry.proto'], lz4);
  return text.toString('utf8');
}

function pipe(cmd: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} exited ${code}: ${Buffer.concat(err)}`))));
    p.stdin.end(input);
  });
}

