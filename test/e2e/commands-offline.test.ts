// Device commands through a real `fieldline-cloud all` process and a real Kafka broker, with no
// gateway running (issue 15, acceptance 4, the offline case): a command for a device whose gateway
// is offline stays queued, is on iot.commands for the gateway to find when it returns, and expires
// with status `expired` once its expiry passes, the `expired` event on iot.command-status. A command
// made while Kafka is down waits in the database and is sent once Kafka is back. Then the status
// consumer, fed the events a gateway would send, moves commands forward only.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Kafka from 'node-rdkafka';
import { TokenAuthority } from '../../cloud-sink/src/api/auth.js';
import type { StatusEvent } from '../../cloud-sink/src/commands/wire.js';
import { startKafka, type KafkaBroker } from '../../devstack/kafka.js';
import { freePort, repoRoot, spawnLogged, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';
import { encodeBatch, SCHEMA_VERSION } from '../../proto/src/wire.js';
import { getCommand, postCommand, readTopicText, statusEventsFor, waitForCommandStatus } from '../support/commands.js';

const SECRET = 'commands-offline-e2e-secret-long-enough-for-hs256';
const GATEWAY = 'gw-offline';
const DEVICE = 'pump-offline';

describe('commands for a gateway that is offline (real Kafka, the cloud process)', () => {
  let dir: string;
  let kafka: KafkaBroker;
  let cloud: LoggedProcess;
  let producer: Kafka.Producer;
  let apiUrl: string;
  let operator: string;
  let viewer: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fieldline-commands-'));
    kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
    await kafka.createTopics([...FIELDLINE_TOPICS]);
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    const config = join(dir, 'cloud.yaml');
    // JSON is YAML: the file an operator would write, with the sweep quick enough for a test.
    writeFileSync(config, JSON.stringify({
      dataDir: join(dir, 'cloud'),
      kafka: { brokers: kafka.bootstrap, sessionTimeoutMs: 6_000 },
      api: { host: '127.0.0.1', port, jwtSecret: SECRET },
      lake: { enabled: false },
      alerts: { enabled: false },
      commands: { sweepIntervalMs: 250, expiryGraceMs: 500, relaySyncMs: 500 },
    }));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_') && k !== 'DATABASE_URL') env[k] = v;
    cloud = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'all', '--config', config], {
      logDir: dir, logName: 'cloud.log', truncate: true, cwd: dir, env,
    });
    await waitUntil(async () => (await fetch(`${apiUrl}/healthz`).then((r) => r.status, () => 0)) === 200, {
      what: 'fieldline-cloud all', timeoutMs: 120_000, intervalMs: 250, process: cloud,
    });
    const auth = new TokenAuthority(SECRET);
    operator = await auth.issue({ subject: 'e2e-operator', role: 'operator', ttlSeconds: 3_600 });
    viewer = await auth.issue({ subject: 'e2e-viewer', role: 'viewer', ttlSeconds: 3_600 });

    producer = new Kafka.Producer({ 'metadata.broker.list': kafka.bootstrap, 'client.id': 'commands-e2e', dr_cb: true });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    producer.setPollInterval(25);

    // The gateway was online once: one batch from it puts the device in the devices table. Then it went away.
    const batch = encodeBatch({ gatewayId: GATEWAY, seq: 1, createdMs: Date.now(), schemaVersion: SCHEMA_VERSION, readings: [{ deviceId: DEVICE, tsMs: Date.now() - 1_000, metrics: { flow: 3.5 } }] });
    await produce('iot.readings', batch.key, batch.value, Object.entries(batch.headers).map(([k, v]) => ({ [k]: v })));
    await waitUntil(async () => (await fetch(`${apiUrl}/v1/devices/${DEVICE}`, { headers: { authorization: `Bearer ${viewer}` } })).status === 200, {
      what: `${DEVICE} in the devices table`, timeoutMs: 60_000, intervalMs: 250, process: cloud,
    });
  });

  after(async () => {
    if (producer) await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
    await cloud?.stop('SIGTERM', 30_000);
    await kafka?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Produces one message and resolves once Kafka confirmed it. */
  function produce(topic: string, key: string, value: Buffer, headers: Kafka.MessageHeader[] = []): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const opaque = Symbol('delivery');
      const onReport = (err: Kafka.LibrdKafkaError | null, report: Kafka.DeliveryReport): void => {
        if (report.opaque !== opaque) return;
        producer.removeListener('delivery-report', onReport);
        if (err) reject(err);
        else resolve();
      };
      producer.on('delivery-report', onReport);
      producer.produce(topic, null, value, key, Date.now(), opaque, headers);
    });
  }

  /** The status events the consumer passed over, by why, from /metrics. */
  async function ignored(): Promise<Record<'backwards' | 'unknown' | 'wrong_gateway', number>> {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const count = (reason: string): number => {
      const line = text.split('\n').find((l) => l.startsWith(`fieldline_cloud_dropped_total{stage="command_status",reason="${reason}"}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    return { backwards: count('backwards'), unknown: count('unknown'), wrong_gateway: count('wrong_gateway') };
  }

  const gatewayEvent = (id: string, status: StatusEvent['status'], error?: string): Promise<void> => {
    const e: StatusEvent = { id, device_id: DEVICE, gateway_id: GATEWAY, status, ts_ms: Date.now(), ...(error ? { error } : {}) };
    return produce('iot.command-status', id, Buffer.from(JSON.stringify(e)), [{ 'content-type': 'application/json' }]);
  };

  it('a command for the offline gateway is queued, waits on iot.commands keyed by the gateway, then expires with an `expired` event', async () => {
    const sent = await postCommand(apiUrl, operator, DEVICE, { name: 'set_interval', payload: { seconds: 15 }, expires_in_s: 3 });
    assert.equal(sent.status, 'queued');
    assert.equal(sent.gateway_id, GATEWAY);
    const listed = (await (await fetch(`${apiUrl}/v1/devices/${DEVICE}/commands`, { headers: { authorization: `Bearer ${viewer}` } })).json()) as { commands: { id: string; status: string }[] };
    assert.deepEqual(listed.commands.map((c) => [c.id, c.status]), [[sent.id, 'queued']], 'GET shows it queued');

    // On iot.commands for the gateway to read when it returns: keyed by the gateway, the contract's JSON.
    let onTopic: { key: string; headers: string; value: string } | undefined;
    await waitUntil(async () => {
      onTopic = (await readTopicText(kafka.bootstrap, 'iot.commands')).find((r) => r.value.includes(sent.id));
      return onTopic !== undefined;
    }, { what: 'the command on iot.commands', timeoutMs: 30_000, intervalMs: 250, process: cloud });
    assert.equal(onTopic!.key, GATEWAY);
    assert.match(onTopic!.headers, /content-type=application\/json/);
    const message = JSON.parse(onTopic!.value) as Record<string, unknown>;
    assert.deepEqual(message, {
      id: sent.id, gateway_id: GATEWAY, device_id: DEVICE, name: 'set_interval', payload: { seconds: 15 },
      created_ms: Date.parse(sent.created_at), expires_ms: Date.parse(sent.expires_at),
    });
    assert.equal(Date.parse(sent.expires_at) - Date.parse(sent.created_at), 3_000);

    const expired = await waitForCommandStatus(apiUrl, viewer, DEVICE, sent.id, 'expired', 30_000);
    assert.match(expired.error ?? '', /^FL_ERR_COMMANDS_EXPIRED: /);
    assert.ok(Date.parse(expired.updated_at) >= Date.parse(sent.expires_at), 'expired no earlier than its expiry');

    let events: StatusEvent[] = [];
    await waitUntil(async () => {
      events = await statusEventsFor(kafka.bootstrap, sent.id);
      return events.some((e) => e.status === 'expired');
    }, { what: 'the expired event on iot.command-status', timeoutMs: 30_000, intervalMs: 250, process: cloud });
    assert.deepEqual(events.map((e) => e.status), ['queued', 'expired'], 'queued, then expired, each once, in order under the command id');
    const last = events[1]!;
    assert.deepEqual([last.id, last.device_id, last.gateway_id], [sent.id, DEVICE, GATEWAY]);
    assert.match(last.error ?? '', /^FL_ERR_COMMANDS_EXPIRED: /);

    // The gateway comes back and says it delivered it after all: expired is final.
    const before = await ignored();
    await gatewayEvent(sent.id, 'delivered');
    await waitUntil(async () => (await ignored()).backwards > before.backwards, { what: 'the late delivered passed over', timeoutMs: 30_000, intervalMs: 250, process: cloud });
    assert.equal((await getCommand(apiUrl, viewer, DEVICE, sent.id)).status, 'expired');
  });

  it('a command made while Kafka is down is answered 201, kept in the database, and sent once Kafka is back', { timeout: 180_000 }, async (t) => {
    await kafka.stop();
    let made: { id: string; status: string } | undefined;
    try {
      made = await postCommand(apiUrl, operator, DEVICE, { name: 'reboot', expires_in_s: 600 });
      assert.equal(made.status, 'queued');
      const detail = (await (await fetch(`${apiUrl}/v1/devices/${DEVICE}/commands/${made.id}`, { headers: { authorization: `Bearer ${operator}` } })).json()) as { sent_at: string | null };
      assert.equal(detail.sent_at, null, 'not on Kafka yet');
    } finally {
      await kafka.start();
    }
    let onTopic: { key: string } | undefined;
    await waitUntil(async () => {
      onTopic = (await readTopicText(kafka.bootstrap, 'iot.commands')).find((r) => r.value.includes(made!.id));
      return onTopic !== undefined;
    }, { what: 'the command on iot.commands after the outage', timeoutMs: 120_000, intervalMs: 500, process: cloud });
    assert.equal(onTopic!.key, GATEWAY);
    await waitUntil(async () => {
      const d = (await (await fetch(`${apiUrl}/v1/devices/${DEVICE}/commands/${made!.id}`, { headers: { authorization: `Bearer ${operator}` } })).json()) as { sent_at: string | null };
      return d.sent_at !== null;
    }, { what: 'sent_at set once Kafka confirmed it', timeoutMs: 60_000, intervalMs: 250, process: cloud });
    // At least once: a delivery that timed out in the outage may have landed anyway (librdkafka's
    // "possibly persisted"), and the relay sends it again; the consumers deduplicate by command id.
    const events = await statusEventsFor(kafka.bootstrap, made!.id);
    assert.ok(events.length >= 1 && events.every((e) => e.status === 'queued' && e.gateway_id === GATEWAY), JSON.stringify(events));
    t.diagnostic(`queued events for the command: ${events.length}; the command on iot.commands: ${(await readTopicText(kafka.bootstrap, 'iot.commands')).filter((r) => r.value.includes(made!.id)).length}`);
    assert.equal((await getCommand(apiUrl, viewer, DEVICE, made!.id)).status, 'queued', 'the repeats changed nothing');
  });

  it('the status consumer moves a command forward only, skips unknown ids and garbage, and keeps going', async () => {
    const c = await postCommand(apiUrl, operator, DEVICE, { name: 'write', tag: 'setpoint', value: 42, expires_in_s: 600 });
    await gatewayEvent(c.id, 'delivered');
    await waitForCommandStatus(apiUrl, viewer, DEVICE, c.id, 'delivered', 30_000);
    await gatewayEvent(c.id, 'acknowledged');
    await waitForCommandStatus(apiUrl, viewer, DEVICE, c.id, 'acknowledged', 30_000);

    // Backwards, unknown, another gateway's, not JSON: each is passed over and counted, and the
    // consumer goes on to the next.
    const before = await ignored();
    await gatewayEvent(c.id, 'delivered');
    await gatewayEvent(c.id, 'failed', 'FL_ERR_X: too late');
    await gatewayEvent('00000000-0000-4000-8000-000000000000', 'delivered');
    await produce('iot.command-status', c.id, Buffer.from('{not json'));
    const d = await postCommand(apiUrl, operator, DEVICE, { name: 'reboot', expires_in_s: 600 });
    await produce('iot.command-status', d.id, Buffer.from(JSON.stringify({ id: d.id, device_id: DEVICE, gateway_id: 'gw-impostor', status: 'acknowledged', ts_ms: Date.now() })));
    await gatewayEvent(d.id, 'failed', 'FL_ERR_DEVICE_BUSY: try later');
    const failed = await waitForCommandStatus(apiUrl, viewer, DEVICE, d.id, 'failed', 30_000);
    assert.equal(failed.error, 'FL_ERR_DEVICE_BUSY: try later');
    await waitUntil(async () => {
      const now = await ignored();
      return now.backwards >= before.backwards + 2 && now.unknown >= before.unknown + 1 && now.wrong_gateway >= before.wrong_gateway + 1;
    }, { what: 'two backwards, one unknown and one wrong-gateway event counted', timeoutMs: 30_000, intervalMs: 250, process: cloud });
    const after = await getCommand(apiUrl, viewer, DEVICE, c.id);
    assert.deepEqual([after.status, after.error], ['acknowledged', undefined]);

    // The garbage went to the DLQ with its code.
    await waitUntil(async () => (await readTopicText(kafka.bootstrap, 'iot.sink-dlq')).some((r) => r.value === '{not json' && /error=FL_ERR_COMMANDS_BAD_STATUS/.test(r.headers)), {
      what: 'the garbage status on the DLQ', timeoutMs: 30_000, intervalMs: 250, process: cloud,
    });
  });
});
