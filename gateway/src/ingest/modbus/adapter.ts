// Modbus ingest: the gateway is the master. One Bus per serial port or TCP connection polls its
// devices' tag groups; each poll of a group becomes one reading (one Envelope, format 'reading')
// handed to the pipeline. A poll counts as accepted only once the pipeline's promise resolves with
// the reading committed: that is the moment a Modbus read is "acknowledged" (DESIGN.md guarantee 1),
// since nothing acknowledges a master's read on the wire.
import type { Logger } from 'pino';
import { SourceProtocol } from '../../../../proto/src/wire.js';
import { GatewayError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { Envelope } from '../../pipeline/types.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import { Bus, type BusStats, type DeviceStats, type PollResult } from './bus.js';
import type { BusClock } from './clock.js';
import type { BusConfig, ModbusConfig } from './config.js';
import type { ReadFunction } from './spec.js';
import { RtuTransport, TcpTransport, type Transport } from './transport.js';
import type { WriteRequest } from './writes.js';

/** What became of the readings a device's polls produced. */
export interface IngestCounters {
  /** Committed to the outbox: the acknowledged reads. */
  accepted: number;
  /** Refused by the pipeline (quarantined or rate-limited, and counted there). */
  refused: number;
  /** The outbox could not commit: the reading is lost and counted as an error. */
  uncommitted: number;
}

export type ModbusDeviceStats = DeviceStats & { readings: IngestCounters };
export type ModbusBusStats = Omit<BusStats, 'devices'> & { devices: ModbusDeviceStats[] };
export interface ModbusStats {
  buses: ModbusBusStats[];
}

export interface BusInfo {
  name: string;
  type: 'tcp' | 'rtu';
  connected: boolean;
  /** The serial port of an RTU bus, so ad-hoc scans can refuse a port a bus owns. */
  path?: string;
  /** The address of a TCP bus. */
  host?: string;
  port?: number;
}

export interface ModbusAdapterOptions {
  /** Builds the transport of a bus; tests pass fakes. Default: modbus-serial over TCP or the serial port. */
  transportFor?: (bus: BusConfig) => Transport;
  /** The buses' clock; tests pass one that records or fakes the waits. Default: the real clock. */
  clock?: BusClock;
}

/** The metrics stage this adapter counts under (docs/METRICS.md). */
export const STAGE = 'modbus';

function defaultTransport(bus: BusConfig): Transport {
  if (bus.type === 'tcp') return new TcpTransport(bus.host, bus.port, bus.connectTimeoutMs);
  return new RtuTransport({ path: bus.path, baudRate: bus.baudRate, parity: bus.parity, dataBits: bus.dataBits, stopBits: bus.stopBits });
}

export class ModbusAdapter implements Adapter {
  readonly name = 'modbus';
  private readonly buses: Bus[] = [];
  private readonly ingestCounters = new Map<string, IngestCounters>();
  private readonly inflight = new Set<Promise<void>>();
  private ingest: Ingest | undefined;
  private started = false;

  constructor(
    private readonly cfg: ModbusConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly opts: ModbusAdapterOptions = {},
  ) {
    const transportFor = opts.transportFor ?? defaultTransport;
    for (const busCfg of cfg.buses) {
      for (const d of busCfg.devices) this.ingestCounters.set(d.deviceId, { accepted: 0, refused: 0, uncommitted: 0 });
      this.buses.push(
        new Bus(busCfg, transportFor(busCfg), {
          poll: (result) => this.emit(busCfg, result),
          failure: () => this.metrics.count(STAGE, 'errors'),
        }, log.child({ bus: busCfg.name }), opts.clock),
      );
    }
  }

  /**
   * Starts every bus's poll loop. Resolves at once: a bus whose port or connection cannot be opened
   * yet keeps trying in the background and shows as down in status().
   */
  async start(ingest: Ingest): Promise<void> {
    this.ingest = ingest;
    this.started = true;
    for (const bus of this.buses) bus.start();
    this.log.info({ buses: this.cfg.buses.map((b) => b.name) }, 'modbus polling');
  }

  /** Stops polling, then waits until every reading already handed to the pipeline has settled. */
  async stop(): Promise<void> {
    await Promise.all(this.buses.map((b) => b.stop()));
    this.started = false;
    await Promise.all([...this.inflight]);
  }

  /** The read requests each poll sends after merging. */
  plan(): ReturnType<Bus['plan']> {
    return this.buses.flatMap((b) => b.plan());
  }

  /** The configured buses, for the local API's scan and test read. */
  busInfo(): BusInfo[] {
    return this.buses.map((b) => ({
      name: b.cfg.name,
      type: b.cfg.type,
      connected: b.connected,
      ...(b.cfg.type === 'rtu' ? { path: b.cfg.path } : { host: b.cfg.host, port: b.cfg.port }),
    }));
  }

  /**
   * One manual read through the named bus's loop (Bus.request): never interleaved with its polls.
   * Rejects with FL_ERR_MODBUS_UNKNOWN_BUS (naming the configured buses) for a name not configured.
   */
  request(busName: string, unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer> {
    const bus = this.buses.find((b) => b.cfg.name === busName);
    if (!bus) {
      const names = this.buses.map((b) => JSON.stringify(b.cfg.name)).join(', ') || 'none';
      return Promise.reject(new GatewayError('FL_ERR_MODBUS_UNKNOWN_BUS', `${JSON.stringify(busName)}; configured: ${names}`));
    }
    return bus.request(unitId, fn, address, count, timeoutMs);
  }

  /**
   * The device configured under `deviceId` and the bus it is on, or undefined: what a write command
   * is checked against.
   */
  device(deviceId: string): { bus: string; device: BusConfig['devices'][number] } | undefined {
    for (const b of this.cfg.buses) for (const d of b.devices) if (d.deviceId === deviceId) return { bus: b.name, device: d };
    return undefined;
  }

  /** One write to a configured device, on its bus between polls (Bus.write); rejects with ModbusFailure or GatewayError. */
  write(deviceId: string, req: WriteRequest): Promise<void> {
    const found = this.device(deviceId);
    const bus = found && this.buses.find((b) => b.cfg.name === found.bus);
    if (!found || !bus) return Promise.reject(new GatewayError('FL_ERR_COMMAND_UNKNOWN_DEVICE', `${deviceId} is not on any configured Modbus bus`));
    return bus.write(found.device.unitId, req, found.device.timeoutMs);
  }

  stats(): ModbusStats {
    return {
      buses: this.buses.map((bus) => {
        const s = bus.snapshot();
        return {
          ...s,
          devices: s.devices.map((d) => ({ ...d, readings: { ...(this.ingestCounters.get(d.deviceId) ?? { accepted: 0, refused: 0, uncommitted: 0 }) } })),
        };
      }),
    };
  }

  status(): AdapterStatus {
    if (!this.started) return { name: this.name, state: 'down', detail: 'not started' };
    if (this.buses.length === 0) return { name: this.name, state: 'up', detail: 'no buses configured' };
    const stats = this.stats();
    const open = stats.buses.filter((b) => b.connected).length;
    const unhealthy = stats.buses.some((b) => !b.connected || b.devices.some((d) => d.state === 'backoff' || d.state === 'down'));
    const state = open === 0 ? 'down' : unhealthy ? 'degraded' : 'up';
    return { name: this.name, state, detail: stats.buses.map(describeBus).join('; '), counters: flatCounters(stats) };
  }

  private emit(bus: BusConfig, result: PollResult): void {
    const ingest = this.ingest;
    if (!ingest) return;
    const source = bus.type === 'tcp' ? SourceProtocol.SOURCE_PROTOCOL_MODBUS_TCP : SourceProtocol.SOURCE_PROTOCOL_MODBUS_RTU;
    const deviceId = result.device.deviceId;
    const env: Envelope = {
      deviceId,
      source,
      format: 'reading',
      raw: result.raw,
      receivedMs: result.doneMs,
      topic: `modbus/${bus.name}/unit/${result.device.unitId}/${result.group.name}`,
      reading: { deviceId, tsMs: result.tsMs, metrics: result.metrics, source },
    };
    const counters = this.ingestCounters.get(deviceId) as IngestCounters;
    this.metrics.count(STAGE, 'received');
    const settled = ingest(env).then(
      (outcome) => {
        if (outcome.ok) counters.accepted++;
        else counters.refused++;
      },
      (err: unknown) => {
        counters.uncommitted++;
        this.metrics.count(STAGE, 'errors');
        this.log.warn({ deviceId, err: (err as Error).message }, 'outbox refused a modbus reading');
      },
    );
    this.inflight.add(settled);
    void settled.then(() => this.inflight.delete(settled));
  }
}

/** Per bus and per slave, as `bus.<name>.<counter>` and `<deviceId>.<counter>`, for the heartbeat. */
export function flatCounters(stats: ModbusStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of stats.buses) {
    Object.assign(out, {
      [`bus.${b.name}.connects`]: b.connects,
      [`bus.${b.name}.connect_errors`]: b.connectErrors,
      [`bus.${b.name}.requests`]: b.requests,
      [`bus.${b.name}.items_read`]: b.itemsRead,
    });
    for (const d of b.devices) {
      Object.assign(out, {
        [`${d.deviceId}.ok`]: d.ok,
        [`${d.deviceId}.timeout`]: d.timeout,
        [`${d.deviceId}.crc_error`]: d.crcError,
        [`${d.deviceId}.protocol_error`]: d.protocolError,
        [`${d.deviceId}.retries`]: d.retries,
        [`${d.deviceId}.accepted`]: d.readings.accepted,
        [`${d.deviceId}.refused`]: d.readings.refused,
        [`${d.deviceId}.uncommitted`]: d.readings.uncommitted,
      });
      for (const [code, n] of Object.entries(d.exception)) out[`${d.deviceId}.exception.${code}`] = n;
    }
  }
  return out;
}

function describeBus(b: ModbusBusStats): string {
  const devices = b.devices.map((d) => {
    const exceptions = Object.entries(d.exception).map(([code, n]) => `${code}:${n}`).join(',');
    const last = d.lastError ? ` lastError="${d.lastError.message}"` : '';
    return `${d.deviceId}(unit ${d.unitId}) ${d.state} ok=${d.ok} timeout=${d.timeout} crcError=${d.crcError} exception={${exceptions}} accepted=${d.readings.accepted}${last}`;
  });
  return `${b.name} ${b.connected ? 'open' : 'closed'}: ${devices.join(', ')}`;
}
