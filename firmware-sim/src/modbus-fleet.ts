// Simulated Modbus field devices for the CLI: Modbus/TCP slaves and an RTU slave (modbus-slave.ts)
// whose units all hold the same register map, rewritten with fresh values at the sensor rate, and
// the `modbus:` section of gateway.yaml (gateway/src/ingest/modbus/config.ts) that polls them.
//
// Fault mode fails a share of requests, each picked on its own: no answer (the master times out),
// an exception answer (6 slave device busy, which the gateway retries, or 4 slave device failure,
// which it does not [MAP §7]), or on RTU an answer with a wrong CRC.
import { hostname } from 'node:os';
import {
  startModbusRtuSlave,
  startModbusTcpSlave,
  type ModbusSlave,
  type SimByteOrder,
  type SimValueType,
  type SlaveFault,
  type UnitMemory,
} from './modbus-slave.js';
import { simulate } from './values.js';

interface RegisterTag {
  metric: string;
  /** 3 holding registers, 4 input registers [MAP §6.3, §6.4]. */
  function: 3 | 4;
  address: number;
  type: SimValueType;
  byteOrder?: SimByteOrder;
  scale?: number;
  unit?: string;
  /** The engineering value at update n of unit k. */
  value: (n: number, k: number) => number;
}

/** What every simulated unit holds; the printed config reads exactly these. */
export const REGISTER_MAP: readonly RegisterTag[] = [
  { metric: 'temperature', function: 4, address: 0, type: 'int16', scale: 0.1, unit: '°C', value: (n, k) => simulate('temperature', n, k) },
  { metric: 'humidity', function: 4, address: 1, type: 'uint16', scale: 0.1, unit: '%', value: (n, k) => simulate('humidity', n, k) },
  // A word-swapped float, as many meters store them, so a wrong byteOrder shows at once.
  { metric: 'voltage', function: 4, address: 2, type: 'float32', byteOrder: 'CDAB', unit: 'V', value: (n, k) => 230 + 5 * simulate('voltage', n, k) },
  // Counts updates from 1, so a reader can tell fresh registers from a stuck device.
  { metric: 'seq', function: 4, address: 4, type: 'uint32', byteOrder: 'ABCD', value: (n) => n },
  { metric: 'setpoint', function: 3, address: 0, type: 'int16', scale: 0.1, unit: '°C', value: () => 21.5 },
];

export type ModbusFaultKind = 'silent' | 'exception' | 'corrupt-crc';

export interface ModbusFleetOptions {
  /** Units per slave: unit ids (TCP) or slave addresses (RTU) 1..units. */
  units: number;
  /** Register updates per second; the printed config polls at the same rate. */
  rate: number;
  prefix: string;
  /** Share of requests (0-1) that get a fault, and which kinds to pick from. */
  faults?: { share: number; kinds: readonly ModbusFaultKind[] };
}

export interface ModbusFleetStats {
  /** Requests received for the simulated units. */
  requests: number;
  /** Requests answered normally. */
  answered: number;
  faults: { silent: number; exceptions: Record<string, number>; corruptCrc: number };
  /** Times the registers were rewritten with new values. */
  updates: number;
}

export type BusDescription =
  | { type: 'tcp'; host: string; port: number; devices: { deviceId: string; unitId: number }[] }
  | { type: 'rtu'; path: string; servedPath: string; baudRate: number; parity: 'none' | 'even' | 'odd'; devices: { deviceId: string; unitId: number }[] };

export interface ModbusFleet {
  stats: ModbusFleetStats;
  buses: BusDescription[];
  stop(): Promise<void>;
}

/** Registers holding `value` of `tag`, as the gateway decodes them: (raw × scale) back to raw. */
function write(mem: UnitMemory, tag: RegisterTag, value: number): void {
  const raw = tag.type === 'float32' || tag.type === 'float64' ? value : Math.round(value / (tag.scale ?? 1));
  mem.setValue(tag.function === 3 ? 'holdingRegisters' : 'inputRegisters', tag.address, tag.type, raw, tag.byteOrder ?? 'ABCD');
}

/** Shared by the TCP and RTU fleets: fault picking, counters, and the register updates. */
class Fleet {
  readonly stats: ModbusFleetStats = { requests: 0, answered: 0, faults: { silent: 0, exceptions: {}, corruptCrc: 0 }, updates: 0 };
  private readonly units: UnitMemory[] = [];
  private timer?: NodeJS.Timeout;
  private n = 0;

  constructor(private readonly opts: ModbusFleetOptions, private readonly allowed: readonly ModbusFaultKind[]) {}

  readonly faultFor = (): SlaveFault | undefined => {
    this.stats.requests++;
    const kinds = (this.opts.faults?.kinds ?? []).filter((k) => this.allowed.includes(k));
    if (kinds.length === 0 || Math.random() >= (this.opts.faults?.share ?? 0)) {
      this.stats.answered++;
      return undefined;
    }
    const kind = kinds[Math.floor(Math.random() * kinds.length)] as ModbusFaultKind;
    if (kind === 'silent') {
      this.stats.faults.silent++;
      return { kind: 'silent' };
    }
    if (kind === 'corrupt-crc') {
      this.stats.faults.corruptCrc++;
      return { kind: 'corrupt-crc' };
    }
    const code = Math.random() < 0.5 ? 6 : 4;
    this.stats.faults.exceptions[code] = (this.stats.faults.exceptions[code] ?? 0) + 1;
    return { kind: 'exception', code };
  };

  unitIds(): number[] {
    return Array.from({ length: this.opts.units }, (_, i) => i + 1);
  }

  track(slave: ModbusSlave): void {
    for (const id of this.unitIds()) this.units.push(slave.unit(id));
  }

  startUpdates(): void {
    this.update();
    this.timer = setInterval(() => this.update(), Math.max(10, Math.round(1000 / this.opts.rate)));
  }

  stopUpdates(): void {
    clearInterval(this.timer);
  }

  private update(): void {
    this.n++;
    this.units.forEach((mem, k) => {
      for (const tag of REGISTER_MAP) write(mem, tag, tag.value(this.n, k));
    });
    this.stats.updates++;
  }
}

export async function startModbusTcpFleet(
  opts: ModbusFleetOptions & { slaves: number; host: string; basePort?: number },
): Promise<ModbusFleet> {
  const fleet = new Fleet(opts, ['silent', 'exception']);
  const slaves: ModbusSlave[] = [];
  const buses: BusDescription[] = [];
  // A slave bound to every interface is reached by this machine's name.
  const reachAs = opts.host === '0.0.0.0' || opts.host === '::' ? hostname() : opts.host;
  try {
    for (let i = 1; i <= opts.slaves; i++) {
      const slave = await startModbusTcpSlave({
        host: opts.host,
        port: opts.basePort === undefined ? 0 : opts.basePort + i - 1,
        units: Object.fromEntries(fleet.unitIds().map((u) => [u, {}])),
        faultFor: fleet.faultFor,
      });
      slaves.push(slave);
      fleet.track(slave);
      buses.push({ type: 'tcp', host: reachAs, port: slave.port, devices: fleet.unitIds().map((u) => ({ deviceId: `${opts.prefix}-tcp${i}-unit${u}`, unitId: u })) });
    }
  } catch (err) {
    await Promise.all(slaves.map((s) => s.stop()));
    throw err;
  }
  fleet.startUpdates();
  return {
    stats: fleet.stats,
    buses,
    async stop() {
      fleet.stopUpdates();
      await Promise.all(slaves.map((s) => s.stop()));
    },
  };
}

export async function startModbusRtuFleet(
  opts: ModbusFleetOptions & { path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; peerPath?: string },
): Promise<ModbusFleet> {
  const fleet = new Fleet(opts, ['silent', 'exception', 'corrupt-crc']);
  const slave = await startModbusRtuSlave({
    path: opts.path,
    baudRate: opts.baudRate,
    parity: opts.parity,
    units: Object.fromEntries(fleet.unitIds().map((u) => [u, {}])),
    faultFor: fleet.faultFor,
  });
  fleet.track(slave);
  fleet.startUpdates();
  return {
    stats: fleet.stats,
    buses: [
      {
        type: 'rtu',
        path: opts.peerPath ?? '/dev/ttyUSB0',
        servedPath: opts.path,
        baudRate: opts.baudRate,
        parity: opts.parity,
        devices: fleet.unitIds().map((u) => ({ deviceId: `${opts.prefix}-rtu-unit${u}`, unitId: u })),
      },
    ],
    async stop() {
      fleet.stopUpdates();
      await slave.stop();
    },
  };
}

export const SNIPPET_BEGIN = '# --- fieldline-sim: modbus section for gateway.yaml ---';
export const SNIPPET_END = '# --- end of modbus section ---';

/** The register map as a person reads it: one line per tag. */
export function describeRegisterMap(): string[] {
  return REGISTER_MAP.map((t) => {
    const words = t.type === 'float64' ? 4 : t.type.endsWith('32') ? 2 : 1;
    const where = `${t.function === 3 ? 'holding' : 'input'} register${words > 1 ? `s ${t.address}-${t.address + words - 1}` : ` ${t.address}`}`;
    const how = [t.type, t.byteOrder, t.scale === undefined ? '' : `×${t.scale}`, t.unit].filter(Boolean).join(' ');
    return `  ${where.padEnd(22)} ${t.metric.padEnd(12)} ${how}`;
  });
}

/**
 * A `modbus:` section (gateway/src/ingest/modbus/config.ts, laid out like its sample.yaml) that
 * polls every simulated unit at `pollIntervalMs`. Between two marker comments, so it can be cut
 * out of the output; the markers are YAML comments, so pasting them along does no harm.
 */
export function gatewaySnippet(buses: readonly BusDescription[], pollIntervalMs: number): string {
  const out = [SNIPPET_BEGIN, 'modbus:', '  enabled: true', '  buses:'];
  for (const bus of buses) {
    if (bus.type === 'tcp') {
      out.push('    - type: tcp', `      host: ${JSON.stringify(bus.host)}`, `      port: ${bus.port}`);
    } else {
      const note = bus.path === bus.servedPath ? '' : `   # the gateway's end of the line; the simulator serves ${bus.servedPath}`;
      out.push('    - type: rtu', `      path: ${JSON.stringify(bus.path)}${note}`, `      baudRate: ${bus.baudRate}`, `      parity: ${bus.parity}`);
    }
    out.push('      devices:');
    for (const d of bus.devices) {
      out.push(`        - deviceId: ${d.deviceId}`, `          unitId: ${d.unitId}`, '          tagGroups:', `            - pollIntervalMs: ${pollIntervalMs}`, '              tags:');
      for (const t of REGISTER_MAP) {
        const fields = [
          `metric: ${t.metric}`,
          `function: ${t.function}`,
          `address: ${t.address}`,
          `type: ${t.type}`,
          ...(t.byteOrder ? [`byteOrder: ${t.byteOrder}`] : []),
          ...(t.scale === undefined ? [] : [`scale: ${t.scale}`]),
          ...(t.unit ? [`unit: ${JSON.stringify(t.unit)}`] : []),
        ];
        out.push(`                - { ${fields.join(', ')} }`);
      }
    }
  }
  out.push(SNIPPET_END);
  return out.join('\n');
}
