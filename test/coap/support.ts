// Shared pieces of the CoAP tests: the adapter in front of the real pipeline and SQLite outbox in a
// temp dir, libcoap's coap-client, and a raw UDP client that shows every datagram the gateway sends.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { v1, type Reading } from '../../proto/src/wire.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import type { Ingest } from '../../gateway/src/ingest/adapter.js';
import { CoapAdapter } from '../../gateway/src/ingest/coap/adapter.js';
import { coapConfigSchema, type CoapConfig } from '../../gateway/src/ingest/coap/config.js';
import { Code, Opt, encodeMessage, parseMessage, encodeUint, type CoapMessage, type CoapOption, type MessageType } from '../../gateway/src/ingest/coap/message.js';
import { Metrics } from '../../gateway/src/metrics.js';
import { SqliteOutbox } from '../../gateway/src/outbox/sqlite-outbox.js';
import { Pipeline, defaultSteps } from '../../gateway/src/pipeline/pipeline.js';
import { removeOnExit, run } from '../../devstack/net.js';

export const quietLog = pino({ level: process.env.FIELDLINE_TEST_LOG_LEVEL ?? 'silent' });

export interface RealGateway {
  adapter: CoapAdapter;
  outbox: SqliteOutbox;
  metrics: Metrics;
  port: number;
  /** Readings committed so far (leases them, so each call returns only new ones). */
  committed(): Reading[];
  stop(): Promise<void>;
}

/**
 * The adapter on 127.0.0.1 and a free port, in front of the real Pipeline and SqliteOutbox.
 * `settings` are gateway.yaml settings for the pipeline (rate limits, ranges, devices).
 */
export async function startRealGateway(coap: Partial<CoapConfig> = {}, settings: Record<string, unknown> = {}): Promise<RealGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-coap-'));
  const cleaned = removeOnExit(dir);
  const metrics = new Metrics();
  const outbox = new SqliteOutbox({ path: join(dir, 'outbox.db') });
  const pipeline = new Pipeline('gw-test', defaultSteps(gatewayConfigSchema.parse(settings)), outbox, metrics);
  const adapter = new CoapAdapter(coapConfigSchema.parse({ host: '127.0.0.1', port: 0, ...coap }), metrics, quietLog);
  await adapter.start((env) => pipeline.process(env));
  return {
    adapter,
    outbox,
    metrics,
    port: adapter.boundPort,
    committed() {
      const out: Reading[] = [];
      for (let batch = outbox.lease(100_000); batch; batch = outbox.lease(100_000)) {
        for (const r of batch.readings) out.push(v1.Reading.decode(r));
      }
      return out;
    },
    async stop() {
      await adapter.stop();
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
      cleaned();
    },
  };
}

/** The adapter in front of a stand-in for the pipeline. */
export async function startWithIngest(ingest: Ingest, coap: Partial<CoapConfig> = {}): Promise<{ adapter: CoapAdapter; metrics: Metrics; port: number }> {
  const metrics = new Metrics();
  const adapter = new CoapAdapter(coapConfigSchema.parse({ host: '127.0.0.1', port: 0, ...coap }), metrics, quietLog);
  await adapter.start(ingest);
  return { adapter, metrics, port: adapter.boundPort };
}

export interface LibcoapResult {
  /** "2.04", "4.00", …, or "" when no response was printed. */
  code: string;
  type: string;
  /** Options as libcoap prints them: "Size1:1024", "Max-Age:3". */
  options: string;
  /** The diagnostic or response payload as printed. */
  payload: string;
  raw: string;
}

/**
 * Runs libcoap's coap-client (Debian libcoap3-bin) and reads the response PDU from its -v 6 dump:
 * `v:1 t:ACK c:4.13 i:175d {01} [ Size1:1024 ] :: 'text'`.
 */
export async function coapClient(args: string[]): Promise<LibcoapResult> {
  const r = await run('coap-client-notls', ['-v', '6', '-B', '10', ...args], { timeoutMs: 20_000 });
  const raw = r.stdout + r.stderr;
  const lines = raw.split('\n').filter((l) => /^v:1 t:\w+ c:[2-5]\.\d\d /.test(l));
  const last = lines.at(-1) ?? '';
  const m = /^v:1 t:(\w+) c:(\d\.\d\d) i:\w+ \{\w*\} \[ ?(.*?) ?\](?: :: '(.*)')?$/s.exec(last);
  return { code: m?.[2] ?? '', type: m?.[1] ?? '', options: m?.[3] ?? '', payload: m?.[4] ?? '', raw };
}

/** A UDP client speaking raw CoAP, keeping every datagram it receives. */
export class RawClient {
  readonly received: CoapMessage[] = [];
  private waiters: Array<{ match: (m: CoapMessage) => boolean; resolve: (m: CoapMessage) => void }> = [];
  private nextId = 1000;
  private constructor(private readonly socket: Socket, private readonly port: number) {
    socket.on('message', (buf) => {
      const r = parseMessage(buf);
      if (!r.ok) return;
      this.received.push(r.message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(r.message)) return true;
        w.resolve(r.message);
        return false;
      });
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new RawClient(socket, port);
  }

  sendRaw(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(buf, this.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }

  /** A POST /telemetry/{deviceId}; returns the message so the caller can resend it as a retransmission. */
  post(deviceId: string, body: unknown, opts: { type?: MessageType; contentFormat?: number; messageId?: number; token?: Buffer; extra?: CoapOption[] } = {}): CoapMessage {
    const options: CoapOption[] = [
      { number: Opt.URI_PATH, value: Buffer.from('telemetry') },
      { number: Opt.URI_PATH, value: Buffer.from(deviceId) },
      ...(opts.contentFormat === undefined ? [] : [{ number: Opt.CONTENT_FORMAT, value: encodeUint(opts.contentFormat) }]),
      ...(opts.extra ?? []),
    ];
    const m: CoapMessage = {
      type: opts.type ?? 'CON',
      code: Code.POST,
      messageId: opts.messageId ?? (this.nextId = (this.nextId + 1) & 0xffff),
      token: opts.token ?? Buffer.from(this.nextId.toString(16).padStart(8, '0'), 'hex'),
      options,
      payload: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
    };
    void this.sendRaw(encodeMessage(m));
    return m;
  }

  resend(m: CoapMessage): void {
    void this.sendRaw(encodeMessage(m));
  }

  /** The next (or an already received) message matching, or a rejection after timeoutMs. */
  waitFor(match: (m: CoapMessage) => boolean, timeoutMs = 3000, fromIndex = 0): Promise<CoapMessage> {
    const already = this.received.slice(fromIndex).find(match);
    if (already) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching CoAP message within ${timeoutMs} ms; got ${this.received.length}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (m: CoapMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The response (not an empty ACK) to request `m`, matched by token. */
  response(m: CoapMessage, timeoutMs = 3000, fromIndex = 0): Promise<CoapMessage> {
    return this.waitFor((r) => r.code !== Code.EMPTY && r.token.equals(m.token), timeoutMs, fromIndex);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function optionUint(m: CoapMessage, n: number): number | undefined {
  const o = m.options.find((x) => x.number === n);
  return o ? o.value.reduce((v, b) => v * 256 + b, 0) : undefined;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
