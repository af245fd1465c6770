// Wires the gateway together: adapters → pipeline → outbox → forwarder, with the local API and the
// heartbeat beside them. Start order is outbox first (nothing is accepted before it can commit),
// stop order the reverse.
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Heartbeat } from '../../proto/src/wire.js';
import { buildLocalApi } from './api/server.js';
import type { GatewayConfig } from './config/schema.js';
import { Forwarder } from './forward/forwarder.js';
import { buildHeartbeat, sampleHost, type HostSample } from './health/heartbeat.js';
import type { Adapter } from './ingest/adapter.js';
import { CoapAdapter } from './ingest/coap/adapter.js';
import { ModbusAdapter } from './ingest/modbus/adapter.js';
import { MqttAdapter } from './ingest/mqtt/adapter.js';
import { MqttResendScreen } from './ingest/mqtt/redelivery.js';
import { Metrics } from './metrics.js';
import { SqliteOutbox, outboxOptions } from './outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from './pipeline/pipeline.js';
import { DeviceRegistry } from './pipeline/registry.js';
import { VERSION } from './version.js';

const NO_HOST_SAMPLE: HostSample = {
  cpuPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 0, diskFreeBytes: 0, diskTotalBytes: 0, temperatureC: null,
};

export class Gateway {
  readonly metrics = new Metrics();
  readonly outbox: SqliteOutbox;
  readonly forwarder: Forwarder;
  readonly mqtt?: MqttAdapter;
  readonly coap?: CoapAdapter;
  readonly modbus?: ModbusAdapter;
  readonly adapters: Adapter[] = [];
  readonly token: string;
  readonly registry: DeviceRegistry;
  apiPort = 0;
  private readonly pipeline: Pipeline;
  private readonly startedMs = Date.now();
  private api?: ReturnType<typeof buildLocalApi>;
  private host: HostSample | null = null;

  constructor(readonly cfg: GatewayConfig, readonly log: Logger = pino({ level: cfg.logLevel })) {
    const dataDir = resolve(cfg.dataDir);
    this.outbox = new SqliteOutbox({
      ...outboxOptions(cfg.outbox, dataDir),
      // Also with MQTT off: the file may hold keys from a run with it on.
      resends: new MqttResendScreen(),
      onEvict: (byDevice) => byDevice.forEach((values, deviceId) => this.metrics.lose(deviceId, 'evicted', values, 'FL_ERR_OUTBOX_EVICTED')),
    });
    if (this.outbox.recovery) {
      log.error({ ...this.outbox.recovery }, 'the outbox file was damaged; moved it aside and started a fresh outbox (readings only in it are lost)');
    }
    this.registry = new DeviceRegistry(join(dataDir, 'devices.db'), cfg.devices);
    this.pipeline = new Pipeline(cfg.gatewayId, defaultSteps(cfg, this.registry), this.outbox, this.metrics);
    this.forwarder = new Forwarder(cfg.kafka, cfg.gatewayId, this.outbox, this.metrics, log.child({ part: 'forward' }));
    if (cfg.mqtt.enabled) {
      this.mqtt = new MqttAdapter(cfg.mqtt, cfg.rateLimit, this.metrics, log.child({ part: 'mqtt' }), dataDir);
      this.adapters.push(this.mqtt);
    }
    if (cfg.coap.enabled) {
      this.coap = new CoapAdapter(cfg.coap, this.metrics, log.child({ part: 'coap' }));
      this.adapters.push(this.coap);
    }
    if (cfg.modbus.enabled) {
      this.modbus = new ModbusAdapter(cfg.modbus, this.metrics, log.child({ part: 'modbus' }));
      this.adapters.push(this.modbus);
    }
    this.token = cfg.api.adminToken ?? randomBytes(18).toString('base64url');
    this.metrics.gauge('outbox_depth_readings', 'readings waiting in the outbox', () => this.outbox.stats().depthValues);
    this.metrics.gauge('outbox_oldest_age_seconds', 'age of the oldest reading waiting in the outbox (0 when empty): how far the cloud lags', () => {
      const oldest = this.outbox.stats().oldestMs;
      return oldest === null ? 0 : (Date.now() - oldest) / 1000;
    });
  }

  async start(): Promise<void> {
    this.forwarder.start();
    for (const adapter of this.adapters) await adapter.start((env) => this.pipeline.process(env));
    if (this.cfg.api.enabled) {
      this.api = buildLocalApi({
        token: this.token,
        status: () => this.status(),
        metrics: () => this.metrics.render(),
        devices: () => this.registry.list().map((d) => ({
          ...d,
          loss: this.metrics.deviceLoss.get(d.deviceId) ?? null,
          refusals: Object.fromEntries(this.metrics.deviceRefusals.get(d.deviceId) ?? []),
        })),
        quarantine: (limit) => this.outbox.recentQuarantine(limit).map((q) => ({ ...q, raw: q.raw.toString('base64') })),
        modbus: this.modbus,
      });
      await this.api.listen({ port: this.cfg.api.port, host: this.cfg.api.host });
      const addr = this.api.server.address();
      this.apiPort = typeof addr === 'object' && addr ? addr.port : this.cfg.api.port;
      if (!this.cfg.api.adminToken) this.log.warn({ token: this.token }, 'no api.adminToken set; generated one for this run');
    }
    this.forwarder.heartbeats.start(() => this.freshHeartbeat());
    this.log.info({ gatewayId: this.cfg.gatewayId, version: VERSION, api: this.apiPort }, 'gateway started');
  }

  status() {
    const o = this.outbox.stats();
    return {
      gatewayId: this.cfg.gatewayId,
      version: VERSION,
      uptimeS: Math.round((Date.now() - this.startedMs) / 1000),
      adapters: this.adapters.map((a) => a.status()),
      outbox: { ...o, oldestAgeMs: o.oldestMs === null ? 0 : Date.now() - o.oldestMs },
      cloud: this.forwarder.status(o.depthValues),
      loss: this.metrics.loss,
      deviceLoss: Object.fromEntries(this.metrics.deviceLoss),
      deviceRefusals: Object.fromEntries([...this.metrics.deviceRefusals].map(([id, r]) => [id, Object.fromEntries(r)])),
      refusals: Object.fromEntries(this.metrics.reasons),
      ...(this.modbus ? { modbus: this.modbus.stats() } : {}),
      host: this.host,
    };
  }

  /** The heartbeat as it would be sent now, with the latest host sample (zeros before the first). */
  heartbeatMessage(): Heartbeat {
    const outbox = this.outbox.stats();
    return buildHeartbeat({
      gatewayId: this.cfg.gatewayId,
      firmwareVersion: VERSION,
      startedMs: this.startedMs,
      host: this.host ?? NO_HOST_SAMPLE,
      outbox,
      drain: this.forwarder.drain(outbox.depthValues),
      adapters: this.adapters.map((a) => a.status()),
      metrics: this.metrics,
      intervalMs: this.cfg.kafka.heartbeatIntervalMs,
    });
  }

  /** A new host sample, then the heartbeat: what the heartbeat lane sends every interval. */
  private async freshHeartbeat(): Promise<Heartbeat> {
    this.host = await sampleHost(resolve(this.cfg.dataDir));
    return this.heartbeatMessage();
  }

  async stop(): Promise<void> {
    for (const adapter of this.adapters) await adapter.stop();
    await this.api?.close();
    await this.forwarder.stop();
    this.outbox.close();
    this.registry.close();
    this.log.info('gateway stopped');
  }
}
