// Modbus registers/s: the adapter polling the pymodbus Modbus/TCP slave (devstack/pymodbus_slave.py)
// as fast as one connection allows. Every request is a full 125-register read, so the figure is the
// master's ceiling against that slave; readings go to an ingest that resolves at once, so the outbox
// is not part of it (the end-to-end bench measures that).
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ModbusAdapter } from '../gateway/src/ingest/modbus/adapter.js';
import { localTcpModbus } from '../devstack/modbus-config.js';
import { Metrics } from '../gateway/src/metrics.js';
import { startPymodbusTcpSlave } from '../devstack/pymodbus.js';
import { runIfMain } from './run-alone.js';

export interface ModbusBenchOptions {
  /** Measured seconds (after a 1 s warm-up). Default $BENCH_MODBUS_SECONDS or 10. */
  seconds?: number;
}

export interface ModbusBenchResult {
  registersPerSecond: number;
  requestsPerSecond: number;
  /** Polls that became readings, per second (48 groups of 125 registers each, due every 10 ms: more than one connection can serve). */
  readingsPerSecond: number;
  /** Wall time per 125-register request; the bus never idles, so this is the round trip. */
  msPerRequest: number;
  registersPerRequest: number;
  seconds: number;
  errors: number;
}

const GROUPS = 48;
const REGISTERS = 125;

export async function benchModbus(opts: ModbusBenchOptions = {}): Promise<ModbusBenchResult> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_MODBUS_SECONDS ?? 10);
  const slave = await startPymodbusTcpSlave('bench', {
    1: { size: GROUPS * REGISTERS, values: [{ table: 'holding', address: 0, registers: Array.from({ length: GROUPS * REGISTERS }, (_, i) => i) }] },
  });
  const cfg = localTcpModbus(slave.port, [
          {
            deviceId: 'bench-meter',
            unitId: 1,
            tagGroups: Array.from({ length: GROUPS }, (_, g) => ({
              name: `block-${g}`,
              pollIntervalMs: 10, // shorter than the line can serve: the bus never idles
              tags: Array.from({ length: REGISTERS }, (_, i) => ({ metric: `r${g * REGISTERS + i}`, function: 3, address: g * REGISTERS + i })),
            })),
          },
  ]);
  let readings = 0;
  const adapter = new ModbusAdapter(cfg, new Metrics(), pino({ level: 'silent' }));
  try {
    await adapter.start(async () => {
      readings++;
      return { ok: true, values: REGISTERS };
    });
    await sleep(1_000);
    const snap = (): { items: number; requests: number; readings: number; errors: number; t: number } => {
      const bus = adapter.stats().buses[0]!;
      const d = bus.devices[0]!;
      return { items: bus.itemsRead, requests: bus.requests, readings, errors: d.timeout + d.crcError + d.protocolError + bus.connectErrors, t: performance.now() };
    };
    const start = snap();
    await sleep(seconds * 1_000);
    const end = snap();
    const elapsed = (end.t - start.t) / 1_000;
    const requests = end.requests - start.requests;
    return {
      registersPerSecond: Math.round((end.items - start.items) / elapsed),
      requestsPerSecond: Math.round(requests / elapsed),
      readingsPerSecond: Math.round((end.readings - start.readings) / elapsed),
      msPerRequest: requests ? Number(((elapsed * 1_000) / requests).toFixed(2)) : 0,
      registersPerRequest: REGISTERS,
      seconds: Number(elapsed.toFixed(1)),
      errors: end.errors - start.errors,
    };
  } finally {
    await adapter.stop();
    await slave.stop();
  }
}

// `node dist/bench/modbus.js` runs it alone.
runIfMain(import.meta.url, () => benchModbus());
