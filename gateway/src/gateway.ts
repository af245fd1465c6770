// Wires the gateway together: adapters → pipeline → outbox → forwarder, with the local API and the
// heartbeat beside them. Start order is outbox first (nothing is accepted before it can commit),
// stop order the reverse.
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Heartbeat } from '../../proto/src/wire.js';
import { buildLocalApi } from './api/server.js';
import { Commands } from './commands/commands.js';
import type { ModbusApiDeps } from './api/modbus.js';
import { planApply, runningConfig, type AdapterName, type ApplyFailure, type ApplyResult } from './config/apply.js';
import type { GatewayConfig } from './config/schema.js';
import { GatewayClock, clockSource } from './clock/clock.js';
import { retimeHook } from './clock/retime.js';
import { GatewayError } from './errors.js';
import { Forwarder } from './forward/forwarder.js';
import { buildHeartbeat, sampleHost, type HostSample } from './health/heartbeat.js';
import type { Adapter, AdapterStatus, Ingest } from './ingest/adapter.js';
import { CoapAdapter } from './ingest/coap/adapter.js';
import { ModbusAdapter } from './ingest/modbus/adapter.js';
import { MqttAdapter, type MqttClientInfo } from './ingest/mqtt/adapter.js';
import { MqttResendScreen } from './ingest/mqtt/redelivery.js';
import { Metrics } from './metrics.js';
import { SqliteOutbox, outboxOptions } from './outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from './pipeline/pipeline.js';
import { DeviceRegistry } from './pipeline/registry.js';
import { pkiDir } from './pki/names.js';
import { listCertificates } from './pki/store.js';
import { VERSION } from './version.js';
import { oldestAgeMs } from './outbox/outbox.js';
import { CloudConfigFollower, serialQueue } from './cloud-config/follower.js';

const NO_HOST_SAMPLE: HostSample = {
  cpuPercent: 0, memoryUsedBytes: 0, memoryTotalBytes: 0, diskFreeBytes: 0, diskTotalBytes: 0, temperatureC: null,
};

export interface GatewayOptions {
  /** The YAML file the config came from: the local API edits it (PATCH /config). None: read-only. */
  configFile?: string | undefined;
}

export class Gateway {
  readonly metrics = new Metrics();
  readonly outbox: SqliteOutbox;
  /** Also with MQTT off: the file may hold keys from a run with it on. The MQTT adapter tells it of PUBACKs that found no connection. */
  private readonly resends = new MqttResendScreen();
  readonly clock: GatewayClock;
  // Replaced by reconfigure(): read them afresh rather than keeping a reference.
  forwarder: Forwarder;
  mqtt?: MqttAdapter | undefined;
  coap?: CoapAdapter | undefined;
  modbus?: ModbusAdapter | undefined;
  adapters: Adapter[] = [];
  readonly token: string;
  registry: DeviceRegistry;
  apiPort = 0;
  private pipeline: Pipeline;
  /** Adapters hand readings to whichever pipeline is current when each one arrives. */
  private readonly ingest: Ingest = (env) => this.pipeline.process(env);
  /** Why an adapter runs its previous settings, or is down, after a failed reconfigure. */
  private readonly applyFailures = new Map<AdapterName, string>();
  private applying: Promise<unknown> = Promise.resolve();
  private readonly startedMs = Date.now();
  private api?: ReturnType<typeof buildLocalApi>;
  private host: HostSample | null = null;
  /** Commands from the cloud (commands/); undefined with commands.enabled false. */
  commands?: Commands;
  /** Config versions from the cloud (cloud-config/); shares its file lock with PATCH /config. */
  readonly configLock = serialQueue();
  readonly cloudConfig: CloudConfigFollower;

  constructor(public cfg: GatewayConfig, readonly log: Logger = pino({ level: cfg.logLevel }), readonly options: GatewayOptions = {}) {
    const dataDir = resolve(cfg.dataDir);
    this.clock = new GatewayClock(clockSource(cfg.clock), cfg.clock, { log: log.child({ part: 'clock' }) });
    this.outbox = new SqliteOutbox({
      ...outboxOptions(cfg.outbox, dataDir),
      retime: retimeHook(this.clock, cfg.clock.holdUnsyncedMs),
      resends: this.resends,
      onEvict: (byDevice) => byDevice.forEach((values, deviceId) => this.metrics.lose(deviceId, 'evicted', values, 'FL_ERR_OUTBOX_EVICTED')),
    });
    if (this.outbox.recovery) {
      log.error({ ...this.outbox.recovery }, 'the outbox file was damaged; moved it aside and started a fresh outbox (readings only in it are lost)');
    }
    this.registry = new DeviceRegistry(join(dataDir, 'devices.db'), cfg.devices);
    this.pipeline = new Pipeline(cfg.gatewayId, defaultSteps(cfg, this.registry, this.clock), this.outbox, this.metrics);
    this.forwarder = new Forwarder(cfg.kafka, cfg.gatewayId, this.outbox, this.metrics, log.child({ part: 'forward' }), { forward: cfg.forward });
    if (cfg.commands.enabled) {
      // The adapters are read afresh on each use: a reconfigure replaces them.
      this.commands = new Commands(cfg.commands, cfg.kafka, cfg.gatewayId, dataDir, {
        mqtt: () => this.mqtt,
        modbus: () => this.modbus,
        knownDevice: (id) => this.registry.list().some((d) => d.deviceId === id),
      }, log.child({ part: 'commands' }));
      this.commands.attach(this.forwarder);
    }
    for (const name of ['mqtt', 'coap', 'modbus'] as const) if (cfg[name].enabled) this.install(name, this.makeAdapter(name, cfg));
    this.token = cfg.api.adminToken ?? randomBytes(18).toString('base64url');
    this.cloudConfig = new CloudConfigFollower({
      cfg, file: options.configFile ?? null, serialize: this.configLock, log: log.child({ part: 'cloud-config' }),
      running: () => this.cfg, reconfigure: (next) => this.reconfigure(next), adapterStates: () => this.adapterStatuses(),
    });
    this.metrics.gauge('outbox_depth_readings', 'readings waiting in the outbox', () => this.outbox.stats().depthValues);
    this.metrics.gauge('outbox_oldest_age_seconds', 'age of the oldest reading waiting in the outbox (0 when empty): how far the cloud lags', () => {
      return oldestAgeMs(this.outbox.stats()) / 1000;
    });
  }

  async start(): Promise<void> {
    const dataDir = resolve(this.cfg.dataDir);
    // Before anything is stamped: until its first answer the clock counts as untrusted.
    await this.clock.start();
    this.forwarder.start();
    for (const adapter of this.adapters) await adapter.start(this.ingest);
    this.commands?.start();
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
        modbus: this.modbusApi(),
        config: {
          file: this.options.configFile ?? null, dataDir, running: () => this.cfg, reconfigure: (next) => this.reconfigure(next),
          serialize: this.configLock, onLocalChange: () => this.cloudConfig.noteLocalChange(),
        },
        mqtt: { clients: () => this.connectedMqttClients(), pkiDevices: () => listCertificates(pkiDir(resolve(this.cfg.dataDir))) },
      });
      await this.api.listen({ port: this.cfg.api.port, host: this.cfg.api.host });
      const addr = this.api.server.address();
      this.apiPort = typeof addr === 'object' && addr ? addr.port : this.cfg.api.port;
      if (!this.cfg.api.adminToken) this.log.warn({ token: this.token }, 'no api.adminToken set; generated one for this run');
    }
    this.forwarder.heartbeats.start(() => this.freshHeartbeat());
    this.cloudConfig.start();
    this.log.info({ gatewayId: this.cfg.gatewayId, version: VERSION, api: this.apiPort }, 'gateway started');
  }

  status() {
    const o = this.outbox.stats();
    return {
      gatewayId: this.cfg.gatewayId,
      version: VERSION,
      uptimeS: Math.round((Date.now() - this.startedMs) / 1000),
      adapters: this.adapterStatuses(),
      outbox: {
        ...o,
        oldestAgeMs: oldestAgeMs(o),
        bound: { maxMessages: this.cfg.outbox.maxMessages, maxBytes: this.cfg.outbox.maxBytes, onFull: this.cfg.outbox.onFull },
      },
      cloud: this.forwarder.status(o.depthValues),
      ...(this.commands ? { commands: this.commands.status() } : {}),
      loss: this.metrics.loss,
      deviceLoss: Object.fromEntries(this.metrics.deviceLoss),
      deviceRefusals: Object.fromEntries([...this.metrics.deviceRefusals].map(([id, r]) => [id, Object.fromEntries(r)])),
      refusals: Object.fromEntries(this.metrics.reasons),
      ...(this.modbus ? { modbus: this.modbus.stats() } : {}),
      host: this.host,
      cloudConfig: this.cloudConfig.status(),
      clock: this.clock.state(),
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
      adapters: this.adapterStatuses(),
      metrics: this.metrics,
      intervalMs: this.cfg.kafka.heartbeatIntervalMs,
      config: this.cloudConfig.heartbeatFields(),
      clock: this.clock.state(),
    });
  }

  /**
   * Runs `next` without a restart (config/apply.ts decides what changes): adapters restart one at a
   * time (stop() lets in-flight messages finish first), the pipeline is rebuilt, the forwarder
   * restarts. An adapter whose new settings fail to start is started again with its previous ones
   * and reported in `failed` and in its status. Calls are serialised.
   */
  reconfigure(next: GatewayConfig): Promise<ApplyResult> {
    const run = this.applying.then(() => this.applyNow(next));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(next: GatewayConfig): Promise<ApplyResult> {
    const prev = this.cfg;
    const plan = planApply(prev, next);
    const applied: string[] = [];
    const failed: ApplyFailure[] = [];
    const kept: AdapterName[] = [];
    if (plan.pipeline) {
      const registry = new DeviceRegistry(join(resolve(prev.dataDir), 'devices.db'), next.devices);
      // Steps run synchronously inside process(), so once the swap is made no step of the old
      // pipeline runs again and its registry can close.
      const old = this.registry;
      this.registry = registry;
      this.pipeline = new Pipeline(prev.gatewayId, defaultSteps(next, registry, this.clock), this.outbox, this.metrics);
      old.close();
      applied.push('pipeline');
    }
    for (const [name, action] of Object.entries(plan.adapters) as [AdapterName, string][]) {
      // The file is back to what runs: an earlier failure no longer describes anything.
      if (action === 'none') {
        this.applyFailures.delete(name);
        continue;
      }
      const error = await this.swapAdapter(name, prev, next);
      if (error) {
        failed.push({ part: name, code: 'FL_ERR_CONFIG_APPLY', message: error });
        kept.push(name);
      } else applied.push(name);
    }
    if (plan.kafka) {
      await this.forwarder.stop();
      // The lane's unsent heartbeat is this run's, and the new lane sends a fresh one at once.
      const waiting = this.outbox.waitingHeartbeat();
      if (waiting) this.outbox.clearHeartbeat(Number(waiting.tsMs ?? 0));
      this.forwarder = new Forwarder(next.kafka, prev.gatewayId, this.outbox, this.metrics, this.log.child({ part: 'forward' }), { forward: next.forward });
      this.commands?.attach(this.forwarder);
      this.forwarder.start();
      this.forwarder.heartbeats.start(() => this.freshHeartbeat());
      applied.push('kafka');
    }
    this.cfg = runningConfig(prev, next, kept);
    this.log.info({ applied, restartRequired: plan.restartRequired, failed }, 'configuration applied');
    return { applied, restartRequired: plan.restartRequired, failed };
  }

  /** Stops the running adapter, starts one with the new settings; on failure back to the old ones. Returns the failure. */
  private async swapAdapter(name: AdapterName, prev: GatewayConfig, next: GatewayConfig): Promise<string | null> {
    const old = this[name];
    if (old) {
      await old.stop();
      this.uninstall(name);
    }
    this.applyFailures.delete(name);
    if (!next[name].enabled) return null;
    const tryStart = async (cfg: GatewayConfig): Promise<string | null> => {
      const adapter = this.makeAdapter(name, cfg);
      try {
        await adapter.start(this.ingest);
        this.install(name, adapter);
        return null;
      } catch (err) {
        await adapter.stop().catch(() => undefined);
        return (err as Error).message;
      }
    };
    const error = await tryStart(next);
    if (!error) return null;
    const message = `the new ${name} settings did not start: ${error}`;
    const restored = prev[name].enabled && old ? await tryStart(prev) : 'it was not running before';
    this.applyFailures.set(name, restored ? `${message}; ${name} is down (${restored})` : `${message}; running the previous settings`);
    this.log.error({ part: name, error, restored: restored === null }, 'reconfigure: adapter failed to start');
    return this.applyFailures.get(name)!;
  }

  private makeAdapter(name: AdapterName, cfg: GatewayConfig): Adapter {
    const log = this.log.child({ part: name });
    if (name === 'mqtt') {
      const mqtt = new MqttAdapter(cfg.mqtt, cfg.rateLimit, this.metrics, log, resolve(cfg.dataDir), cfg.gatewayId, this.resends);
      const commands = this.commands?.service;
      if (commands) mqtt.commandEvents = { subscribed: (id) => commands.deliverMqtt(id), ack: (id, payload) => commands.deviceAck(id, payload) };
      return mqtt;
    }
    if (name === 'coap') return new CoapAdapter(cfg.coap, this.metrics, log);
    return new ModbusAdapter(cfg.modbus, this.metrics, log);
  }

  /** Keeps `adapters` in the fixed order mqtt, coap, modbus. */
  private install(name: AdapterName, adapter: Adapter): void {
    (this as Record<AdapterName, Adapter | undefined>)[name] = adapter;
    this.adapters = (['mqtt', 'coap', 'modbus'] as const).flatMap((n) => this[n] ?? []);
  }

  private uninstall(name: AdapterName): void {
    this[name] = undefined;
    this.adapters = this.adapters.filter((a) => a.name !== name);
  }

  /** Every adapter's status, with a failed reconfigure's reason (and an adapter it left down). */
  private adapterStatuses(): AdapterStatus[] {
    const out = this.adapters.map((a): AdapterStatus => {
      const failure = this.applyFailures.get(a.name as AdapterName);
      const s = a.status();
      return failure ? { ...s, state: s.state === 'up' ? 'degraded' : s.state, detail: `${failure}; ${s.detail}` } : s;
    });
    for (const [name, failure] of this.applyFailures) if (!this[name]) out.push({ name, state: 'down', detail: failure });
    return out;
  }

  /** The clients of whichever MQTT adapter runs now (reconfigure replaces it); MQTT off answers 503. */
  private connectedMqttClients(): MqttClientInfo[] {
    if (!this.mqtt) throw new GatewayError('FL_ERR_MQTT_DISABLED');
    return this.mqtt.connectedClients();
  }

  /** The local API's Modbus deps, following whichever adapter runs now (reconfigure replaces it). */
  private modbusApi(): ModbusApiDeps {
    const current = (): ModbusAdapter => {
      if (!this.modbus) throw new GatewayError('FL_ERR_MODBUS_DISABLED');
      return this.modbus;
    };
    return {
      busInfo: () => current().busInfo(),
      request: (...args) => current().request(...args),
      stats: () => current().stats(),
      plan: () => current().plan(),
    };
  }

  /** A new host sample, then the heartbeat: what the heartbeat lane sends every interval. */
  private async freshHeartbeat(): Promise<Heartbeat> {
    this.host = await sampleHost(resolve(this.cfg.dataDir));
    return this.heartbeatMessage();
  }

  async stop(): Promise<void> {
    // First: a version being applied finishes (or rolls back) before anything below stops.
    await this.cloudConfig.stop();
    await this.applying;
    // Before the adapters: no new command is taken, and a Modbus write under way finishes.
    await this.commands?.stop();
    for (const adapter of this.adapters) await adapter.stop();
    await this.api?.close();
    await this.forwarder.stop();
    this.commands?.close();
    this.outbox.close();
    this.registry.close();
    this.clock.stop();
    this.log.info('gateway stopped');
  }
}
