// The backlog on a USB stick (issue 13, acceptance 2): a gateway with no cloud link exports its
// outbox with the built CLI, the cloud imports the file twice, and later the gateway itself reaches
// Kafka and sends the same batches: every reading is in the database exactly once. Also: an export
// beside a running gateway is delivered by that gateway without a restart, and `status` against a
// running and a stopped gateway. Real Kafka (devstack/kafka.ts), the embedded TimescaleDB sink.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { loadConfig } from '../../common/src/config.js';
import { exactlyOnce, GENEROUS_LIMITS, startCloud, type CloudStack } from '../../devstack/stack.js';
import { freePort, repoRoot, run, waitUntil, type RunResult } from '../../devstack/net.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';

const GATEWAY_CLI = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const CLOUD_CLI = join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js');
const TOKEN = 'local-admin-token-for-outbox-tests';
const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });

function cli(path: string, args: string[]): Promise<RunResult> {
  // The CLIs' own config comes from the files; the test runner's environment must not add to it.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FIELDLINE_GATEWAY_') && !k.startsWith('FIELDLINE_CLOUD_')));
  return run(process.execPath, [path, ...args], { env, timeoutMs: 120_000 });
}

/** A gateway config file in `dir`, Kafka at `brokers`; returns the file and the parsed config. */
async function gatewayConfig(dir: string, gatewayId: string, brokers: string): Promise<{ file: string; cfg: GatewayConfig }> {
  const file = join(dir, `${gatewayId}.yaml`);
  writeFileSync(file, stringify({
    gatewayId,
    dataDir: join(dir, gatewayId),
    logLevel: 'silent',
    mqtt: { host: '127.0.0.1', port: await freePort(), persistSessions: false },
    coap: { enabled: false },
    api: { host: '127.0.0.1', port: await freePort(), adminToken: TOKEN },
    rateLimit: GENEROUS_LIMITS,
    // Small batches, so the file holds several and the ledger has several seqs to drop.
    kafka: { brokers, batchMaxReadings: 10, retryBackoffMinMs: 200, retryBackoffMaxMs: 1_000, messageTimeoutMs: 5_000 },
  }));
  return { file, cfg: loadConfig(gatewayConfigSchema, { file, env: {}, envPrefix: GATEWAY_ENV_PREFIX }) };
}

/** Publishes seq from..to for each device at QoS 1: each PUBACK means the reading is in the outbox. */
async function publish(gw: Gateway, devices: string[], from: number, to: number): Promise<void> {
  for (const d of devices) {
    // The client id is the device's identity: a device may publish only under devices/{its id}/.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqtt!.boundPort}`, { clientId: d });
    try {
      for (let seq = from; seq <= to; seq++) await client.publishAsync(`devices/${d}/telemetry`, JSON.stringify({ metrics: { seq } }), { qos: 1 });
    } finally {
      await client.endAsync();
    }
  }
}

/** A TCP relay to Kafka that can be opened later: a gateway pointed at it has no link until then. */
class LateLink {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number, private readonly target: number) {}
  async open(): Promise<void> {
    this.server = createServer((inbound) => {
      const outbound = connect(this.target, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('outbox export / import: the backlog on a USB stick', () => {
  let stack: CloudStack;
  let cloudYaml: string;
  const gateways: Gateway[] = [];

  before(async () => {
    stack = await startCloud();
    cloudYaml = join(stack.dir, 'cloud.yaml');
    writeFileSync(cloudYaml, stringify({ kafka: { brokers: stack.kafka.bootstrap } }));
  });
  after(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
    await stack?.stop();
  });

  async function startGateway(cfg: GatewayConfig): Promise<Gateway> {
    const gw = new Gateway(cfg, quiet);
    gateways.push(gw);
    await gw.start();
    return gw;
  }

  async function stopGateway(gw: Gateway): Promise<void> {
    await gw.stop();
    gateways.splice(gateways.indexOf(gw), 1);
  }

  it('export from a stopped gateway, import twice, then the gateway drains the same seqs: each reading is stored exactly once', async () => {
    const devices = ['stick-a', 'stick-b'];
    const n = 45;
    const { file: gwYaml, cfg } = await gatewayConfig(stack.dir, 'gw-stick', `127.0.0.1:${await freePort()}`);
    let gw = await startGateway(cfg);
    await publish(gw, devices, 1, n);
    assert.equal(gw.outbox.stats().depthValues, n * devices.length);

    // status against the running gateway: no cloud link, so degraded (exit 1), and it says why.
    const running = await cli(GATEWAY_CLI, ['status', '--config', gwYaml]);
    assert.equal(running.code, 1, running.stderr + running.stdout);
    assert.match(running.stdout, /^gateway\s+gw-stick\s+version \S+\s+up /m);
    assert.match(running.stdout, /^adapters\s+mqtt\s+up\b/m);
    assert.match(running.stdout, new RegExp(`^backlog\\s+${n * devices.length} readings in ${n * devices.length} messages`, 'm'));
    assert.match(running.stdout, /at the bound: drop-oldest/);
    assert.match(running.stdout, /^loss\s+rate-limited 0\s+quarantined 0\s+evicted 0/m);
    assert.match(running.stdout, /^state\s+DEGRADED: cloud link (down|connecting)/m);
    for (const line of running.stdout.split('\n')) assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
    const json = await cli(GATEWAY_CLI, ['status', '--config', gwYaml, '--json']);
    assert.equal((JSON.parse(json.stdout) as { gatewayId: string }).gatewayId, 'gw-stick');
    const wrongToken = await cli(GATEWAY_CLI, ['status', '--config', gwYaml, '--token', 'not-the-token-at-all']);
    assert.equal(wrongToken.code, 2);
    assert.match(wrongToken.stderr, /refused the token/);
    assert.equal((await cli(GATEWAY_CLI, ['status', '--bogus'])).code, 2);

    await stopGateway(gw);

    // status against the stopped gateway: the backlog from the file, and it says the gateway is not running.
    const stopped = await cli(GATEWAY_CLI, ['status', '--config', gwYaml]);
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(stopped.stdout, /^gateway\s+gw-stick\s+NOT RUNNING/m);
    assert.match(stopped.stdout, new RegExp(`^backlog\\s+${n * devices.length} readings in`, 'm'));
    assert.match(stopped.stdout, /^state\s+DEGRADED: gateway not running/m);

    const stick = join(stack.dir, 'stick');
    mkdirSync(stick, { recursive: true });
    const file = join(stick, 'gw-stick.flbx');
    const exported = await cli(GATEWAY_CLI, ['outbox', 'export', file, '--config', gwYaml]);
    assert.equal(exported.code, 0, exported.stderr + exported.stdout);
    assert.match(exported.stdout, new RegExp(`^exported 9 batches, ${n * devices.length} readings \\(seqs \\d+-\\d+\\) of gateway gw-stick`, 'm'));
    assert.deepEqual(readdirSync(stick), ['gw-stick.flbx'], 'no partial file left beside it');

    for (const round of [1, 2]) {
      const imported = await cli(CLOUD_CLI, ['outbox', 'import', file, '--config', cloudYaml]);
      assert.equal(imported.code, 0, `import ${round}: ${imported.stderr}${imported.stdout}`);
      assert.match(imported.stdout, new RegExp(`^imported 9 batches, ${n * devices.length} readings`, 'm'));
    }
    for (const d of devices) {
      const stored = await stack.waitFor(() => stack.seqsOf(d), (s) => s.length >= n, 60_000);
      assert.deepEqual(exactlyOnce(Array.from({ length: n }, (_, i) => i + 1), stored), { missing: [], doubled: [] }, d);
    }

    // The export deleted nothing: the gateway, now with the real Kafka, sends the same 9 batches.
    gw = await startGateway({ ...cfg, kafka: { ...cfg.kafka, brokers: stack.kafka.bootstrap } });
    assert.equal(gw.outbox.stats().depthValues, n * devices.length, 'the export kept every reading in the outbox');
    await waitUntil(async () => gw.outbox.stats().depthValues === 0, { what: 'the gateway draining its outbox', timeoutMs: 60_000 });
    assert.ok(gw.forwarder.status().deliveredBatches >= 9);
    // A reading after the resent batches, on the same key and so the same partition: once it is
    // stored, the sink has read (and dropped) every resent copy before it.
    await publish(gw, ['stick-a'], n + 1, n + 1);
    const a = await stack.waitFor(() => stack.seqsOf('stick-a'), (s) => s.includes(n + 1), 60_000);
    assert.deepEqual(exactlyOnce(Array.from({ length: n + 1 }, (_, i) => i + 1), a), { missing: [], doubled: [] });
    assert.equal(a.length, n + 1);
    const b = await stack.seqsOf('stick-b');
    assert.deepEqual(exactlyOnce(Array.from({ length: n }, (_, i) => i + 1), b), { missing: [], doubled: [] });
    assert.equal(b.length, n);

    // Linked and drained: healthy, exit 0.
    const healthy = await cli(GATEWAY_CLI, ['status', '--config', gwYaml]);
    assert.equal(healthy.code, 0, healthy.stdout);
    assert.match(healthy.stdout, /^cloud\s+up\s+last delivery/m);
    assert.match(healthy.stdout, /^backlog\s+empty/m);
    assert.match(healthy.stdout, /^state\s+OK$/m);
  });

  it('an export beside a running gateway: the gateway later delivers the batches the export leased, without a restart', async () => {
    const link = new LateLink(await freePort(), stack.kafka.port);
    try {
      const { file: gwYaml, cfg } = await gatewayConfig(stack.dir, 'gw-beside', `127.0.0.1:${link.port}`);
      const gw = await startGateway(cfg);
      const n = 25;
      await publish(gw, ['beside-1'], 1, n);
      assert.equal(gw.outbox.stats().leasedBatches, 0, 'no link: the forwarder leased nothing');
      const file = join(stack.dir, 'beside.flbx');
      const exported = await cli(GATEWAY_CLI, ['outbox', 'export', file, '--config', gwYaml, '--json']);
      assert.equal(exported.code, 0, exported.stderr + exported.stdout);
      const summary = JSON.parse(exported.stdout) as { batches: number; readings: number; leasedNow: number };
      assert.deepEqual({ batches: summary.batches, readings: summary.readings, leasedNow: summary.leasedNow }, { batches: 3, readings: n, leasedNow: 3 });
      assert.equal(gw.outbox.stats().leasedBatches, 3, 'the running gateway sees the leases the export made');

      await link.open();
      await waitUntil(async () => gw.outbox.stats().depthValues === 0, { what: 'the running gateway sending the batches the export leased', timeoutMs: 60_000 });
      const stored = await stack.waitFor(() => stack.seqsOf('beside-1'), (s) => s.length >= n, 60_000);
      assert.deepEqual(exactlyOnce(Array.from({ length: n }, (_, i) => i + 1), stored), { missing: [], doubled: [] });
      assert.ok(existsSync(file));
    } finally {
      await link.close();
    }
  });

  it('import refuses a damaged file, naming the problem, and feeds nothing from it', async () => {
    const good = join(stack.dir, 'beside.flbx');
    const bytes = readFileSync(good);
    const cut = join(stack.dir, 'cut.flbx');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const r = await cli(CLOUD_CLI, ['outbox', 'import', cut, '--config', cloudYaml]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ends inside .*\[FL_ERR_WIRE_FILE_TRUNCATED\]/);
    const notOurs = join(stack.dir, 'cloud.yaml');
    const r2 = await cli(CLOUD_CLI, ['outbox', 'import', notOurs, '--config', cloudYaml]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /FL_ERR_WIRE_FILE_NOT_EXPORT/);
    assert.equal((await cli(CLOUD_CLI, ['outbox', 'import'])).code, 2);
  });
});
