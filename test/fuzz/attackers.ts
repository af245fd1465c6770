// The clients of the ingest fuzz test: attackers that put malformed MQTT on TCP and WebSocket
// connections and malformed CoAP in UDP datagrams, and well-behaved devices whose readings carry
// sequence numbers so the test can tell which acknowledged reading went missing.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import WebSocket from 'ws';
import { codeString } from '../../gateway/src/ingest/coap/message.js';
import { RawClient } from '../coap/support.js';
import type { MqttFuzzSession } from '../support/fuzz.js';

/** Longest a connection that was not dropped waits for the gateway to hang up after our FIN. */
const SESSION_CAP_MS = 5_000;

export interface MqttAttackReport {
  connections: number;
  malformedPackets: number;
  bytes: number;
  byKind: Record<string, number>;
  /** Connections the gateway closed before we did (it refused or gave up on them). */
  closedByGateway: number;
  /** Connections still open SESSION_CAP_MS after our FIN: the gateway kept a half-closed socket. */
  lingered: number;
}

/**
 * Runs fuzz sessions, `concurrency` connections at a time. A session writes its chunks; unless it
 * is a drop, it then half-closes (so the gateway reads everything sent) and waits for the gateway to
 * close, at most SESSION_CAP_MS. A dropped session is destroyed at once (often an RST mid-packet).
 */
export class MqttAttack {
  readonly report: MqttAttackReport = { connections: 0, malformedPackets: 0, bytes: 0, byKind: {}, closedByGateway: 0, lingered: 0 };

  constructor(
    private readonly ports: { mqtt: number; ws: number },
    private readonly next: () => MqttFuzzSession,
    private readonly concurrency: number,
  ) {}

  /** Resolves once at least `malformedPackets` (in total, over all calls) have been sent, or `keepGoing` says stop. */
  async runUntil(malformedPackets: number, keepGoing: () => boolean): Promise<void> {
    const worker = async () => {
      while (this.report.malformedPackets < malformedPackets && keepGoing()) {
        const s = this.next();
        this.report.connections++;
        this.report.malformedPackets += s.malformed;
        this.report.byKind[s.kind] = (this.report.byKind[s.kind] ?? 0) + 1;
        for (const c of s.chunks) this.report.bytes += c.length;
        const how = s.transport === 'ws' ? await this.overWebSocket(s) : await this.overTcp(s);
        if (how === 'gateway') this.report.closedByGateway++;
        if (how === 'cap') this.report.lingered++;
      }
    };
    await Promise.all(Array.from({ length: this.concurrency }, worker));
  }

  private overTcp(s: MqttFuzzSession): Promise<'gateway' | 'us' | 'cap'> {
    return new Promise((resolve) => {
      const sock = tcpConnect(this.ports.mqtt, '127.0.0.1');
      sock.setNoDelay(true);
      let wroteAll = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (how: 'gateway' | 'us' | 'cap') => {
        clearTimeout(timer);
        sock.removeAllListeners('close');
        sock.destroy();
        resolve(how);
      };
      sock.on('error', () => undefined); // ECONNRESET after the gateway hung up: expected
      sock.on('data', () => undefined); // answers are not looked at
      sock.on('close', () => finish(wroteAll ? 'gateway' : 'us'));
      sock.once('connect', () => {
        for (const c of s.chunks) sock.write(c);
        wroteAll = true;
        if (s.drop) return finish('us');
        sock.end();
        timer = setTimeout(() => finish('cap'), SESSION_CAP_MS);
      });
    });
  }

  private overWebSocket(s: MqttFuzzSession): Promise<'gateway' | 'us' | 'cap'> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${this.ports.ws}/mqtt`, 'mqtt');
      let timer: NodeJS.Timeout | undefined;
      let sentAll = false;
      const finish = (how: 'gateway' | 'us' | 'cap') => {
        clearTimeout(timer);
        ws.removeAllListeners('close');
        ws.terminate();
        resolve(how);
      };
      ws.on('error', () => undefined);
      ws.on('close', () => finish(sentAll ? 'gateway' : 'us'));
      ws.once('open', () => {
        for (const c of s.chunks) ws.send(c, { binary: true });
        sentAll = true;
        if (s.drop) return finish('us');
        ws.close(1000);
        timer = setTimeout(() => finish('cap'), SESSION_CAP_MS);
      });
    });
  }
}

/**
 * Sends datagrams from a few sockets, pausing every 100 until the gateway has read about as many
 * as were sent: a UDP socket buffers only a few hundred datagrams, and an outbox commit (fsync)
 * holds the gateway's event loop for milliseconds, so without the pause the test would mostly
 * measure the kernel dropping datagrams rather than the adapter reading them.
 */
export class CoapAttack {
  sent = 0;
  private constructor(private readonly sockets: UdpSocket[], private readonly port: number) {}

  static async open(port: number, count = 4): Promise<CoapAttack> {
    const sockets: UdpSocket[] = [];
    for (let i = 0; i < count; i++) {
      const s = createSocket('udp4');
      s.on('message', () => undefined); // answers (RST, 4.xx) are not looked at
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
      sockets.push(s);
    }
    return new CoapAttack(sockets, port);
  }

  /** `received()` is the gateway's count of datagrams read; the pause ends when it stops moving. */
  async runUntil(datagrams: number, next: () => Buffer, received: () => Promise<number>, keepGoing: () => boolean): Promise<void> {
    while (this.sent < datagrams && keepGoing()) {
      for (let i = 0; i < 100; i++) this.sockets[this.sent++ % this.sockets.length]!.send(next(), this.port, '127.0.0.1');
      let last = -1;
      for (let n = await received(); n !== last; n = await received()) {
        last = n;
        await sleep(5);
      }
    }
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}

/** What a well-behaved device sent and what the gateway acknowledged. */
export interface DeviceLog {
  deviceId: string;
  sent: number[];
  acked: number[];
  /** Readings the gateway did not acknowledge, with the reason. */
  failed: Array<{ seq: number; why: string }>;
}

/** A device that sends reading {seq} for seq = 1, 2, … with a pause after each answer, until stopped. */
abstract class GoodDevice {
  abstract readonly log: DeviceLog;
  private running?: Promise<void>;
  private stopped = false;

  /** Sends one reading and waits for the gateway's answer; true when it was acknowledged. */
  abstract send(seq: number): Promise<boolean>;

  start(intervalMs: number): void {
    this.running = (async () => {
      for (let seq = 1; !this.stopped; seq++) {
        await this.send(seq);
        await sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/**
 * A good MQTT device (MQTT.js, QoS 1): one reading {seq} at a time, the next after the PUBACK and
 * a pause. It does not reconnect: the gateway closing its connection is a failure to report.
 */
export class GoodMqttDevice extends GoodDevice {
  readonly log: DeviceLog;
  closes = 0;

  private constructor(private readonly client: MqttClient, deviceId: string) {
    super();
    this.log = { deviceId, sent: [], acked: [], failed: [] };
    client.on('close', () => this.closes++);
    client.on('error', () => undefined);
  }

  static async connect(url: string, deviceId: string): Promise<GoodMqttDevice> {
    const client = await mqtt.connectAsync(url, { clientId: deviceId, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4 });
    return new GoodMqttDevice(client, deviceId);
  }

  /** Publishes and waits for the PUBACK (at most 10 s). */
  async send(seq: number): Promise<boolean> {
    this.log.sent.push(seq);
    const publish = this.client.publishAsync(`devices/${this.log.deviceId}/telemetry`, JSON.stringify({ metrics: { seq } }), { qos: 1 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no PUBACK within 10 s'), 10_000)));
    const outcome = await Promise.race([publish.then(() => 'ok' as const, (e: Error) => e.message), timeout]);
    clearTimeout(timer);
    if (outcome === 'ok') this.log.acked.push(seq);
    else this.log.failed.push({ seq, why: outcome });
    return outcome === 'ok';
  }


  async end(): Promise<void> {
    await this.stop();
    await this.client.endAsync().catch(() => undefined);
  }
}

/** A good CoAP device: CON POST /telemetry/{id} {seq}, retransmitted as RFC 7252 §4.2 says. */
export class GoodCoapDevice extends GoodDevice {
  readonly log: DeviceLog;

  private constructor(private readonly client: RawClient, deviceId: string) {
    super();
    this.log = { deviceId, sent: [], acked: [], failed: [] };
  }

  static async open(port: number, deviceId: string): Promise<GoodCoapDevice> {
    return new GoodCoapDevice(await RawClient.open(port), deviceId);
  }

  async send(seq: number): Promise<boolean> {
    this.log.sent.push(seq);
    const req = this.client.post(this.log.deviceId, { metrics: { seq } }, { contentFormat: 50 });
    let answer = 'no answer after 6 tries';
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        answer = codeString((await this.client.response(req, 1000)).code);
        break;
      } catch {
        this.client.resend(req);
      }
    }
    if (answer === '2.04') this.log.acked.push(seq);
    else this.log.failed.push({ seq, why: answer });
    return answer === '2.04';
  }


  async end(): Promise<void> {
    await this.stop();
    await this.client.close();
  }
}
