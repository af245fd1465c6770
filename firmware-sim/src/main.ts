#!/usr/bin/env node
// fieldline-sim: a simulated fleet of MQTT and CoAP sensors and Modbus slaves, with an optional fault
// mode (cli-options.ts has the usage). One start function per kind of device; each returns a Run
// whose stats go into the JSON summary printed last, on stop (--duration, SIGINT or SIGTERM).
import { startCoapFleet, type CoapFaults } from './coap-sensor.js';
import { parseSimArgs, USAGE, type SimOptions } from './cli-options.js';
import type { MessageFaults } from './message.js';
import {
  describeRegisterMap,
  gatewaySnippet,
  startModbusRtuFleet,
  startModbusTcpFleet,
  type BusDescription,
  type ModbusFaultKind,
  type ModbusFleetOptions,
} from './modbus-fleet.js';
import { startMqttFleet } from './mqtt-sensor.js';

interface Run {
  /** Its key in the summary. */
  name: 'mqtt' | 'coap' | 'modbusTcp' | 'modbusRtu';
  stats: object;
  /** Modbus only: the lines the printed gateway config polls. */
  buses?: BusDescription[];
  stop(): Promise<void>;
}

/** The message faults of --faults, sharing --fault-rate between the kinds chosen. */
function messageFaults(o: SimOptions): MessageFaults {
  const kinds = (['bad-values', 'skew', 'malformed'] as const).filter((k) => o.faults.has(k));
  const share = kinds.length ? o.faultRate / kinds.length : 0;
  return {
    ...(o.faults.has('bad-values') ? { badValues: share } : {}),
    ...(o.faults.has('skew') ? { skew: share } : {}),
    ...(o.faults.has('malformed') ? { malformedPayload: share } : {}),
  };
}

function bursts(o: SimOptions): { burstEveryMs?: number; burstSize?: number } {
  return o.faults.has('bursts') ? { burstEveryMs: o.burstEveryMs, burstSize: o.burstSize } : {};
}

function deviceRange(ids: readonly string[]): string {
  return ids.length <= 2 ? ids.join(', ') : `${ids[0]} … ${ids.at(-1)}`;
}

async function startMqtt(o: SimOptions): Promise<Run> {
  const fleet = await startMqttFleet({
    url: o.mqttUrl, sensors: o.mqtt, rate: o.rate, qos: o.qos, prefix: o.mqttPrefix,
    faults: { ...messageFaults(o), ...bursts(o) },
  });
  console.log(`simulating ${o.mqtt} MQTT sensors at ${o.rate} Hz against ${o.mqttUrl}, QoS ${o.qos} (${deviceRange(fleet.deviceIds)})`);
  return { name: 'mqtt', stats: fleet.stats, stop: () => fleet.stop() };
}

async function startCoap(o: SimOptions): Promise<Run> {
  // Malformed CoAP datagrams and random bytes are sent besides the requests, on a share of ticks.
  const datagrams: CoapFaults = o.faults.has('malformed') ? { malformed: o.faultRate / 2, randomBytes: o.faultRate / 2 } : {};
  const fleet = await startCoapFleet({
    host: o.coapHost, port: o.coapPort, sensors: o.coap, rate: o.rate, format: o.coapFormat, prefix: o.coapPrefix,
    faults: { ...messageFaults(o), ...datagrams, ...bursts(o) },
  });
  console.log(`simulating ${o.coap} CoAP sensors at ${o.rate} Hz against coap://${o.coapHost}:${o.coapPort} (${o.coapFormat}, confirmable; ${deviceRange(fleet.deviceIds)})`);
  return { name: 'coap', stats: fleet.stats, stop: () => fleet.stop() };
}

function modbusOptions(o: SimOptions): ModbusFleetOptions {
  const kinds: ModbusFaultKind[] = [];
  if (o.faults.has('timeouts')) kinds.push('silent');
  if (o.faults.has('exceptions')) kinds.push('exception');
  if (o.faults.has('malformed')) kinds.push('corrupt-crc');
  return { units: o.modbusUnits, rate: o.rate, prefix: o.modbusPrefix, ...(kinds.length ? { faults: { share: o.faultRate, kinds } } : {}) };
}

async function startModbusTcp(o: SimOptions): Promise<Run> {
  const fleet = await startModbusTcpFleet({
    ...modbusOptions(o), slaves: o.modbusTcp, host: o.modbusHost, ...(o.modbusPort === undefined ? {} : { basePort: o.modbusPort }),
  });
  for (const bus of fleet.buses) {
    if (bus.type !== 'tcp') continue;
    console.log(`Modbus/TCP slave on ${o.modbusHost}:${bus.port}: ${bus.devices.map((d) => `unit ${d.unitId} (${d.deviceId})`).join(', ')}`);
  }
  return { name: 'modbusTcp', stats: fleet.stats, buses: fleet.buses, stop: () => fleet.stop() };
}

async function startModbusRtu(o: SimOptions, path: string): Promise<Run> {
  const fleet = await startModbusRtuFleet({
    ...modbusOptions(o), path, baudRate: o.modbusBaud, parity: o.modbusParity, ...(o.modbusRtuPeer === undefined ? {} : { peerPath: o.modbusRtuPeer }),
  });
  const line = `${o.modbusBaud} 8${o.modbusParity[0]!.toUpperCase()}1`;
  const devices = fleet.buses.flatMap((b) => b.devices.map((d) => `address ${d.unitId} (${d.deviceId})`));
  console.log(`Modbus RTU slave on ${path} (${line}): ${devices.join(', ')}`);
  return { name: 'modbusRtu', stats: fleet.stats, buses: fleet.buses, stop: () => fleet.stop() };
}

function starters(o: SimOptions): (() => Promise<Run>)[] {
  const rtu = o.modbusRtu;
  return [
    ...(o.mqtt > 0 ? [() => startMqtt(o)] : []),
    ...(o.coap > 0 ? [() => startCoap(o)] : []),
    ...(o.modbusTcp > 0 ? [() => startModbusTcp(o)] : []),
    ...(rtu !== undefined ? [() => startModbusRtu(o, rtu)] : []),
  ];
}

function printModbusConfig(o: SimOptions, runs: readonly Run[]): void {
  const buses = runs.flatMap((r) => r.buses ?? []);
  if (buses.length === 0) return;
  console.log('register map of every simulated Modbus unit:');
  for (const line of describeRegisterMap()) console.log(line);
  console.log(gatewaySnippet(buses, Math.max(10, Math.round(1000 / o.rate))));
}

function describeFaults(o: SimOptions): string {
  if (o.faults.size === 0) return 'fault mode off';
  const parts = [`fault mode: ${[...o.faults].join(', ')}; ${Math.round(o.faultRate * 1000) / 10}% of messages and Modbus requests`];
  if (o.faults.has('bursts')) parts.push(`a burst of ${o.burstSize} messages every ${o.burstEveryMs / 1000} s`);
  return parts.join('; ');
}

/**
 * Totals over the MQTT and CoAP messages: sent = good + each fault kind. The per-protocol entries
 * carry the detail, e.g. coap.answers says which faults the gateway refused and how.
 */
function summary(runs: readonly Run[]): Record<string, unknown> {
  const totals = { sent: 0, good: 0, badValues: 0, skew: 0, malformedPayload: 0, burstMessages: 0 };
  for (const run of runs) {
    if (run.name !== 'mqtt' && run.name !== 'coap') continue;
    const s = run.stats as { sent: number; good: number; faults: Record<string, number> };
    totals.sent += s.sent;
    totals.good += s.good;
    for (const k of ['badValues', 'skew', 'malformedPayload', 'burstMessages'] as const) totals[k] += s.faults[k] ?? 0;
  }
  return { ...Object.fromEntries(runs.map((r) => [r.name, r.stats])), totals };
}

/** Resolves on --duration, SIGINT or SIGTERM. A second signal gives up on a clean stop. */
function stopSignal(durationS: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    let requested = false;
    const request = (why: string) => {
      if (requested) {
        console.error(`fieldline-sim: ${why} again; exiting without a summary`);
        process.exit(130);
      }
      requested = true;
      resolve(why);
    };
    if (durationS !== undefined) setTimeout(() => request(`${durationS} s elapsed`), durationS * 1000).unref();
    process.on('SIGINT', () => request('SIGINT'));
    process.on('SIGTERM', () => request('SIGTERM'));
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseSimArgs(argv);
  if ('help' in parsed) {
    console.log(USAGE);
    return 0;
  }
  if ('problems' in parsed) {
    console.error(`fieldline-sim: ${parsed.problems.join('\nfieldline-sim: ')}\n\n${USAGE}`);
    return 2;
  }
  const o = parsed.options;
  const stopped = stopSignal(o.durationS);
  // Keeps the process alive while waiting; the timer in stopSignal is unref'd so it cannot outlive a failed start.
  const keepAlive = setInterval(() => undefined, 60_000);
  const runs: Run[] = [];
  try {
    for (const start of starters(o)) runs.push(await start());
  } catch (err) {
    console.error(`fieldline-sim: could not start: ${(err as Error).message}`);
    await Promise.allSettled(runs.map((r) => r.stop()));
    clearInterval(keepAlive);
    return 1;
  }
  printModbusConfig(o, runs);
  console.log(describeFaults(o));
  console.log(o.durationS === undefined ? 'running until SIGINT or SIGTERM, then printing a summary' : `running for ${o.durationS} s`);
  const why = await stopped;
  console.log(`stopping (${why})`);
  await Promise.allSettled(runs.map((r) => r.stop()));
  clearInterval(keepAlive);
  console.log(JSON.stringify(summary(runs)));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
