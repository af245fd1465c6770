// Simulated Wi-Fi sensors: each an MQTT.js client publishing JSON telemetry at a steady rate.
// Every message carries a per-device `seq` metric counting from 1, so a test can tell from the
// database which acknowledged messages arrived, and whether any arrived twice.
//
// Fault mode replaces a share of the messages with bad values, skewed clocks or payloads that are
// not JSON, and now and then has one sensor flood the gateway (message.ts says what each kind is).
import mqtt, { type MqttClient } from 'mqtt';
import { pickKind, telemetryPayload, type MessageFaults, type MessageKind } from './message.js';

export interface MqttFaults extends MessageFaults {
  /** Every burstEveryMs one sensor publishes burstSize good messages at once, ignoring its rate. */
  burstEveryMs?: number;
  burstSize?: number;
}

export interface MqttFleetOptions {
  url: string;
  sensors: number;
  /** Messages per second per sensor. */
  rate: number;
  qos: 0 | 1;
  prefix?: string;
  /** Metric values per message besides seq. */
  metrics?: string[];
  faults?: MqttFaults;
  /**
   * Called for every good message the broker acknowledged (QoS 1) or that was written (QoS 0).
   * MQTT 3.1.1 has no negative PUBACK, so in fault mode an acknowledged message may still have been
   * rate-limited by the gateway (right after a burst) rather than stored.
   */
  onAck?: (deviceId: string, seq: number, tsMs: number) => void;
}

export interface FleetStats {
  sent: number;
  acked: number;
  errors: number;
  /** Acknowledged messages that carried a valid reading (good or burst) × values per message. */
  ackedReadings: number;
  /** Messages sent that carried a good reading at the sensor's own rate. */
  good: number;
  /** Messages sent of each fault kind (message.ts); sent = good + all of these. */
  faults: Record<Exclude<MessageKind, 'good'>, number>;
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
  const faults = opts.faults ?? {};
  const stats: FleetStats = {
    sent: 0, acked: 0, errors: 0, ackedReadings: 0, good: 0,
    faults: { badValues: 0, skew: 0, malformedPayload: 0, burstMessages: 0 },
  };
  const publishers: ((kind: MessageKind) => void)[] = [];
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
      const publishOne = (kind: MessageKind = pickKind(faults)) => {
        const n = ++seq;
        const ts = Date.now();
        const payload = telemetryPayload({ kind, seq: n, device: i, metricNames, ts, format: 'json' });
        stats.sent++;
        if (kind === 'good') stats.good++;
        else stats.faults[kind]++;
        const p = client
          .publishAsync(`devices/${deviceId}/telemetry`, payload, { qos: opts.qos })
          .then(
            () => {
              stats.acked++;
              if (kind !== 'good' && kind !== 'burstMessages') return;
              stats.ackedReadings += valuesPerMessage;
              if (kind === 'good') opts.onAck?.(deviceId, n, ts);
            },
            () => void stats.errors++,
          )
          .finally(() => outstanding.delete(p));
        outstanding.add(p);
      };
      publishers.push(publishOne);
      // Tracked with the intervals, so a stop() during the phase delay leaves nothing running.
      const start = setTimeout(() => {
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
      timers.push(start);
    }),
  );
  if (faults.burstEveryMs && publishers.length > 0) {
    timers.push(
      setInterval(() => {
        const publish = publishers[Math.floor(Math.random() * publishers.length)] as (kind: MessageKind) => void;
        for (let k = 0; k < (faults.burstSize ?? 250) && outstanding.size < 50_000; k++) publish('burstMessages');
      }, faults.burstEveryMs),
    );
  }

  return {
    stats,
    deviceIds,
    async stop(drainMs = 10_000) {
      for (const t of timers) clearInterval(t);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
      await Promise.race([Promise.allSettled([...outstanding]), deadline]);
      clearTimeout(timer);
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}
