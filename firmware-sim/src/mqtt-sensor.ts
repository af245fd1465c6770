// Simulated Wi-Fi sensors: each an MQTT.js client publishing JSON telemetry at a steady rate.
// Every message carries a per-device `seq` metric counting from 1, so a test can tell from the
// database which acknowledged messages arrived, and whether any arrived twice.
import mqtt, { type MqttClient } from 'mqtt';
import { simulate } from './values.js';

export interface MqttFleetOptions {
  url: string;
  sensors: number;
  /** Messages per second per sensor. */
  rate: number;
  qos: 0 | 1;
  prefix?: string;
  /** Metric values per message besides seq. */
  metrics?: string[];
  /** Called for every message the broker acknowledged (QoS 1) or that was written (QoS 0). */
  onAck?: (deviceId: string, seq: number, tsMs: number) => void;
}

export interface FleetStats {
  sent: number;
  acked: number;
  errors: number;
  /** Messages acknowledged × values per message. */
  ackedReadings: number;
}

export interface MqttFleet {
  stats: FleetStats;
  deviceIds: string[];
  /** Stops publishing and waits for outstanding acknowledgements (up to drainMs). */
  stop(drainMs?: number): Promise<void>;
}

export async function startMqttFleet(opts: MqttFleetOptions): Promise<MqttFleet> {
  const prefix = opts.prefix ?? 'sim-mqtt';
  const metricNames = opts.metrics ?? ['temperature', 'humidity'];
  const valuesPerMessage = metricNames.length + 1;
  const stats: FleetStats = { sent: 0, acked: 0, errors: 0, ackedReadings: 0 };
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const outstanding = new Set<Promise<void>>();
  const deviceIds = Array.from({ length: opts.sensors }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`);

  await Promise.all(
    deviceIds.map(async (deviceId, i) => {
      const client = await mqtt.connectAsync(opts.url, {
        clientId: deviceId,
        clean: true,
        reconnectPeriod: 500,
        connectTimeout: 10_000,
        // Unacknowledged QoS 1 messages are resent after a reconnect, as real devices do.
        queueQoSZero: false,
      });
      clients.push(client);
      client.on('error', () => stats.errors++);
      let seq = 0;
      let due = 0;
      let last = Date.now();
      const tickMs = Math.max(10, Math.floor(1000 / opts.rate));
      const phase = Math.floor((i * tickMs) / Math.max(1, opts.sensors));
      const publishOne = () => {
        const n = ++seq;
        const ts = Date.now();
        const metrics: Record<string, number> = { seq: n };
        for (const name of metricNames) metrics[name] = simulate(name, n, i);
        stats.sent++;
        const p = client
          .publishAsync(`devices/${deviceId}/telemetry`, JSON.stringify({ ts, metrics }), { qos: opts.qos })
          .then(
            () => {
              stats.acked++;
              stats.ackedReadings += valuesPerMessage;
              opts.onAck?.(deviceId, n, ts);
            },
            () => void stats.errors++,
          )
          .finally(() => outstanding.delete(p));
        outstanding.add(p);
      };
      setTimeout(() => {
        last = Date.now();
        timers.push(
          setInterval(() => {
            const now = Date.now();
            due += ((now - last) * opts.rate) / 1000;
            last = now;
            // Bound the backlog a stalled client builds, so a long broker outage cannot exhaust memory.
            for (; due >= 1 && outstanding.size < 50_000; due--) publishOne();
          }, tickMs),
        );
      }, phase);
    }),
  );

  return {
    stats,
    deviceIds,
    async stop(drainMs = 10_000) {
      for (const t of timers) clearInterval(t);
      const deadline = new Promise((r) => setTimeout(r, drainMs));
      await Promise.race([Promise.allSettled([...outstanding]), deadline]);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}
