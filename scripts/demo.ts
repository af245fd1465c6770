// npm run demo [-- --sensors N] [--rate HZ] [--duration S]
// The whole system on one machine with the default ports: a local Kafka broker (KRaft, Apache's
// jars), the cloud with the embedded TimescaleDB, the gateway, the API, and simulated sensors.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Cloud } from '../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { gatewayConfigSchema } from '../gateway/src/config/schema.js';
import { Gateway } from '../gateway/src/gateway.js';
import { startMqttFleet, type MqttFleet } from '../firmware-sim/src/mqtt-sensor.js';
import { startKafka } from '../devstack/kafka.js';
import { leaveSignalsToCaller } from '../devstack/net.js';
import { FIELDLINE_TOPICS } from '../devstack/topics.js';

const ROOT = join(import.meta.dirname, '..', '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sensors: { type: 'string', default: '10' },
      rate: { type: 'string', default: '1' },
      duration: { type: 'string' },
      'kafka-port': { type: 'string', default: '9092' },
      'mqtt-port': { type: 'string', default: '1883' },
      'gateway-api-port': { type: 'string', default: '8080' },
      'api-port': { type: 'string', default: '8090' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npm run demo -- [--sensors N] [--rate HZ] [--duration S] [--kafka-port 9092] [--mqtt-port 1883]\n' +
      '                        [--gateway-api-port 8080] [--api-port 8090] [--dir .fieldline/demo]');
    return 0;
  }
  const sensors = Number(values.sensors);
  const rate = Number(values.rate);
  const duration = values.duration === undefined ? undefined : Number(values.duration);
  if (!Number.isInteger(sensors) || sensors < 0) return usage(`--sensors ${values.sensors}: expected a whole number ≥ 0`);
  if (!(rate > 0)) return usage(`--rate ${values.rate}: expected a positive number`);
  if (duration !== undefined && !(duration > 0)) return usage(`--duration ${values.duration}: expected a positive number of seconds`);

  const ports = ['kafka-port', 'mqtt-port', 'gateway-api-port', 'api-port'] as const;
  for (const name of ports) {
    const p = Number(values[name]);
    if (!Number.isInteger(p) || p < 1 || p > 65535) return usage(`--${name} ${values[name]}: expected a port number`);
  }
  const dir = values.dir ?? join(ROOT, '.fieldline', 'demo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const log = pino({ level: process.env.FIELDLINE_LOG_LEVEL ?? 'warn' });
  // Ctrl-C stops everything cleanly, Kafka included, also when it comes during start-up.
  leaveSignalsToCaller();
  const interrupted = new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });

  console.log('starting Kafka (KRaft, single node)…');
  const kafka = await startKafka({ port: Number(values['kafka-port']), dataDir: join(dir, 'kafka'), logDir: dir });
  await kafka.createTopics([...FIELDLINE_TOPICS]);

  console.log('starting the cloud (embedded TimescaleDB, sink, Parquet lake, API)…');
  const cloud = new Cloud(
    cloudConfigSchema.parse({ dataDir: join(dir, 'cloud'), kafka: { brokers: kafka.bootstrap }, api: { port: Number(values['api-port']) } }),
    'all',
    log,
  );
  await cloud.start();

  console.log('starting the gateway…');
  const gateway = new Gateway(
    gatewayConfigSchema.parse({
      gatewayId: 'demo-gateway',
      dataDir: join(dir, 'gateway'),
      kafka: { brokers: kafka.bootstrap },
      mqtt: { port: Number(values['mqtt-port']) },
      // The demo test runs beside other suites; CoAP keeps its standard port only for a real demo.
      coap: { port: values.dir === undefined ? 5683 : 0 },
      api: { port: Number(values['gateway-api-port']), adminToken: randomBytes(18).toString('base64url') },
    }),
    log,
  );
  await gateway.start();

  const token = await cloud.auth.issue({ subject: 'demo-operator', role: 'operator', ttlSeconds: 7 * 24 * 3600 });
  let fleet: MqttFleet | undefined;
  if (sensors > 0) fleet = await startMqttFleet({ url: `mqtt://127.0.0.1:${gateway.mqtt!.boundPort}`, sensors, rate, qos: 1, prefix: 'demo' });

  const example = fleet?.deviceIds[0] ?? 'my-device';
  console.log(`
Fieldline demo is up.
  MQTT (devices)      mqtt://localhost:${gateway.mqtt?.boundPort ?? 1883}   topic devices/{deviceId}/telemetry
  Gateway local API   http://localhost:${gateway.apiPort}/status   (Authorization: Bearer ${gateway.token})
  Dashboard           http://localhost:${cloud.apiPort}/   (sign in with the API token below)
  Cloud API           http://localhost:${cloud.apiPort}/v1/devices/${example}/readings?metric=temperature
  API reference       http://localhost:${cloud.apiPort}/docs
  Kafka               ${kafka.bootstrap}
  Simulated sensors   ${sensors} at ${rate} Hz
API token: ${token}
Lake: ${cloud.lake?.location ?? '(lake.enabled is false)'}
Try: curl -H "Authorization: Bearer ${token}" "http://localhost:${cloud.apiPort}/v1/devices/${example}/readings?metric=temperature"
`);

  await Promise.race([interrupted, ...(duration === undefined ? [] : [new Promise<void>((done) => setTimeout(done, duration * 1000))])]);

  await fleet?.stop();
  if (duration !== undefined) {
    const sent = fleet?.stats.ackedReadings ?? 0;
    const devices = fleet?.deviceIds ?? [];
    const stored = async () => {
      let n = 0;
      for (const d of devices) n += await cloud.store!.countReadings({ deviceId: d });
      return n;
    };
    // Give the forwarder and the sink up to a minute to drain what the devices had acknowledged.
    const deadline = Date.now() + 60_000;
    let got = await stored();
    while (got < sent && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      got = await stored();
    }
    const quarantined = gateway.metrics.loss.quarantined;
    console.log(`summary: sent ${sent} / stored ${got} / quarantined ${quarantined} / lost ${Math.max(0, sent - got)} readings`);
  }
  await gateway.stop();
  await cloud.stop();
  await kafka.stop();
  if (values.dir === undefined) console.log(`data kept in ${dir} until the next demo run`);
  return 0;
}

function usage(msg: string): number {
  console.error(msg);
  return 2;
}

main().then((c) => process.exit(c), (err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
