// Simulated constrained sensors: each a coap package client (its own Agent and UDP socket, so its
// own endpoint) POSTing readings to coap://gw/telemetry/{deviceId} at a steady rate, one request
// outstanding at a time (RFC 7252 §4.7 NSTART = 1). Every message carries a per-device `seq`
// metric counting from 1, so a test can tell from the database which acknowledged (2.04) messages
// arrived, and whether any arrived twice.
//
// Fault mode sends, besides the good traffic: readings with bad values, skewed clocks or payloads
// that do not decode (message.ts), bursts that outrun the rate limit, malformed CoAP messages and
// random-byte datagrams, all from the sensors' own sockets. The answer to every request is counted
// under its message kind, so a summary can say which faults the gateway refused and how.
import { Agent, type IncomingMessage } from 'coap';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { MESSAGE_KINDS, pickKind, telemetryPayload, type MessageFaults, type MessageKind } from './message.js';

/** Besides the message faults (shares of requests: badValues, skew, malformedPayload): */
export interface CoapFaults extends MessageFaults {
  /** Every burstEveryMs one sensor sends burstSize messages at once, ignoring NSTART and its rate. */
  burstEveryMs?: number;
  burstSize?: number;
  /** Share of ticks (0-1) on which a sensor also sends a malformed CoAP message. */
  malformed?: number;
  /** Share of ticks (0-1) on which a sensor also sends a datagram of random bytes. */
  randomBytes?: number;
}

export interface CoapFleetOptions {
  host: string;
  port: number;
  sensors: number;
  /** Messages per second per sensor. */
  rate: number;
  /** Payload encoding: JSON (Content-Format 50, the default) or CBOR (60). */
  format?: 'json' | 'cbor';
  /** Confirmable (the default) or Non-confirmable requests. */
  confirmable?: boolean;
  prefix?: string;
  /** Metric values per message besides seq. */
  metrics?: string[];
  /** Give up on a request after this long without a response (the coap package waits 247 s). */
  timeoutMs?: number;
  faults?: CoapFaults;
  /** Called for every message answered 2.04 Changed: the gateway has committed it. */
  onAck?: (deviceId: string, seq: number, tsMs: number) => void;
}

export interface CoapFleetStats {
  sent: number;
  /** Answered 2.04. */
  acked: number;
  /** Messages acknowledged × values per message. */
  ackedReadings: number;
  /** 4.xx answers, of which 4.29 are also counted in rateLimited. */
  clientErrors: number;
  rateLimited: number;
  /** 5.xx answers. */
  serverErrors: number;
  timeouts: number;
  errors: number;
  /** Every response code seen, e.g. {"2.04": 100, "4.00": 3}. */
  byCode: Record<string, number>;
  /** Requests sent carrying a good reading at the sensor's own rate. */
  good: number;
  /**
   * Requests of each fault kind (sent = good + badValues + skew + malformedPayload + burstMessages),
   * and datagrams sent besides the requests: malformed CoAP messages and random bytes.
   */
  faults: Record<Exclude<MessageKind, 'good'>, number> & { malformed: number; randomBytes: number };
  /**
   * How the gateway answered each kind of request: response code, or "timeout" / "error". A 4.xx
   * other than 4.29 means the gateway quarantined the message; 4.29 that it was rate-limited.
   */
  answers: Record<MessageKind, Record<string, number>>;
}

export interface CoapFleet {
  stats: CoapFleetStats;
  deviceIds: string[];
  /** Stops sending and waits for outstanding requests (up to drainMs). */
  stop(drainMs?: number): Promise<void>;
}

interface Sensor {
  deviceId: string;
  index: number;
  agent: Agent;
  socket: Socket;
  seq: number;
  outstanding: number;
  due: number;
}

/** Most messages a sensor lets pile up while it waits for answers, so a stalled gateway cannot exhaust memory. */
const MAX_BACKLOG = 1000;

export async function startCoapFleet(opts: CoapFleetOptions): Promise<CoapFleet> {
  const prefix = opts.prefix ?? 'sim-coap';
  const metricNames = opts.metrics ?? ['temperature', 'humidity'];
  const valuesPerMessage = metricNames.length + 1;
  const format = opts.format ?? 'json';
  const faults = opts.faults ?? {};
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const stats: CoapFleetStats = {
    sent: 0, acked: 0, ackedReadings: 0, clientErrors: 0, rateLimited: 0, serverErrors: 0, timeouts: 0, errors: 0, byCode: {},
    good: 0,
    faults: { badValues: 0, skew: 0, malformedPayload: 0, burstMessages: 0, malformed: 0, randomBytes: 0 },
    answers: Object.fromEntries(MESSAGE_KINDS.map((k) => [k, {}])) as CoapFleetStats['answers'],
  };
  const outstanding = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const sensors: Sensor[] = [];
  let stopping = false;

  for (let index = 0; index < opts.sensors; index++) {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, () => resolve()));
    const agent = new Agent({ socket });
    agent.on('error', () => void stats.errors++);
    sensors.push({ deviceId: `${prefix}-${String(index + 1).padStart(4, '0')}`, index, agent, socket, seq: 0, outstanding: 0, due: 0 });
  }

  const answered = (kind: MessageKind, answer: string): void => {
    const seen = stats.answers[kind];
    seen[answer] = (seen[answer] ?? 0) + 1;
  };

  const post = (s: Sensor, kind: MessageKind = pickKind(faults)): void => {
    const n = ++s.seq;
    const ts = Date.now();
    const payload = telemetryPayload({ kind, seq: n, device: s.index, metricNames, ts, format });
    stats.sent++;
    if (kind === 'good') stats.good++;
    else stats.faults[kind]++;
    s.outstanding++;
    const p = new Promise<void>((resolve) => {
      const req = s.agent.request({
        hostname: opts.host,
        port: opts.port,
        method: 'POST',
        pathname: `/telemetry/${s.deviceId}`,
        confirmable: opts.confirmable ?? true,
        contentFormat: format === 'cbor' ? 60 : 50,
      });
      const timer = setTimeout(() => {
        stats.timeouts++;
        answered(kind, 'timeout');
        s.agent.abort(req);
        resolve();
      }, timeoutMs);
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        const code = String(res.code);
        stats.byCode[code] = (stats.byCode[code] ?? 0) + 1;
        answered(kind, code);
        if (code === '2.04') {
          stats.acked++;
          stats.ackedReadings += valuesPerMessage;
          opts.onAck?.(s.deviceId, n, ts);
        } else if (code.startsWith('4.')) {
          stats.clientErrors++;
          if (code === '4.29') stats.rateLimited++;
        } else if (code.startsWith('5.')) stats.serverErrors++;
        resolve();
      });
      req.on('error', () => {
        clearTimeout(timer);
        stats.errors++;
        answered(kind, 'error');
        resolve();
      });
      req.end(payload);
    }).finally(() => {
      s.outstanding--;
      outstanding.delete(p);
      pump(s);
    });
    outstanding.add(p);
  };

  // §4.7 NSTART = 1: one request at a time; messages that fall due meanwhile wait their turn.
  const pump = (s: Sensor): void => {
    if (stopping) return;
    while (s.due >= 1 && s.outstanding === 0) {
      s.due--;
      post(s);
    }
  };

  const sendFault = (s: Sensor, kind: 'malformed' | 'randomBytes'): void => {
    stats.faults[kind]++;
    const datagram = kind === 'randomBytes' ? randomBytes(1 + Math.floor(Math.random() * 200)) : malformedMessage(s.deviceId);
    s.socket.send(datagram, opts.port, opts.host, (err) => {
      if (err) stats.errors++;
    });
  };

  const tickMs = Math.max(10, Math.floor(1000 / opts.rate));
  for (const s of sensors) {
    const phase = Math.floor((s.index * tickMs) / Math.max(1, sensors.length));
    let last = Date.now();
    const start = setTimeout(() => {
      last = Date.now();
      timers.push(
        setInterval(() => {
          const now = Date.now();
          s.due = Math.min(MAX_BACKLOG, s.due + ((now - last) * opts.rate) / 1000);
          last = now;
          if (faults.malformed && Math.random() < faults.malformed) sendFault(s, 'malformed');
          if (faults.randomBytes && Math.random() < faults.randomBytes) sendFault(s, 'randomBytes');
          pump(s);
        }, tickMs),
      );
    }, phase);
    timers.push(start);
  }
  if (faults.burstEveryMs && sensors.length > 0) {
    timers.push(
      setInterval(() => {
        const s = sensors[Math.floor(Math.random() * sensors.length)] as Sensor;
        for (let i = 0; i < (faults.burstSize ?? 100); i++) post(s, 'burstMessages');
      }, faults.burstEveryMs),
    );
  }

  return {
    stats,
    deviceIds: sensors.map((s) => s.deviceId),
    async stop(drainMs = 10_000) {
      stopping = true;
      for (const t of timers) clearInterval(t);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
      await Promise.race([Promise.allSettled([...outstanding]), deadline]);
      clearTimeout(timer);
      for (const s of sensors) {
        s.agent.close();
        await new Promise<void>((resolve) => s.socket.close(() => resolve()));
      }
    },
  };
}

/**
 * A CoAP message with one of the format errors of RFC 7252 §3: a reserved token length, a reserved
 * option nibble, a payload marker with no payload, an option running past the end, a truncated
 * header, or a request code in a Reset.
 */
function malformedMessage(deviceId: string): Buffer {
  const mid = [Math.floor(Math.random() * 256), Math.floor(Math.random() * 256)];
  const path = Buffer.concat([Buffer.from([0xb9]), Buffer.from('telemetry'), Buffer.from([Math.min(12, deviceId.length)]), Buffer.from(deviceId.slice(0, 12))]);
  const variants = [
    Buffer.from([0x4f, 0x02, ...mid]), // token length 15
    Buffer.concat([Buffer.from([0x40, 0x02, ...mid]), path, Buffer.from([0xf1, 0x00])]), // option delta nibble 15
    Buffer.concat([Buffer.from([0x40, 0x02, ...mid]), path, Buffer.from([0xff])]), // payload marker, no payload
    Buffer.concat([Buffer.from([0x40, 0x02, ...mid]), Buffer.from([0xbc]), Buffer.from('tele')]), // option past the end
    Buffer.from([0x40, 0x02, mid[0] as number]), // 3-byte header
    Buffer.concat([Buffer.from([0x70, 0x02, ...mid]), path]), // a POST inside a Reset
  ];
  return variants[Math.floor(Math.random() * variants.length)] as Buffer;
}
