// CoAP ingest: `POST coap://gw:5683/telemetry/{deviceId}` with a JSON (50) or CBOR (60) payload.
//
// Two layers. The screen (onDatagram) owns the UDP socket and reads every datagram with our own
// parser (message.ts): malformed datagrams, pings, duplicates and requests that can be answered at
// once never reach the coap package. Requests bound for the pipeline are handed to the coap
// package's server as a bare 4-byte header plus token that message.ts wrote, so its parser, its
// Observe handling (which answers errors to 127.0.0.1 rather than the sender) and its Block1
// reassembly (unbounded per client, and asking for a ~1 GiB buffer on one forged block number)
// never see network bytes. What the package does for us is the exchange
// after that: hold the ACK for a piggybacked answer, else send an empty ACK and the answer as a
// separate confirmable response retransmitted until acknowledged (RFC 7252 §5.2, §4.2).
//
// The answer to a request is sent only once the pipeline's promise has resolved: 2.04 means the
// reading is committed to the outbox (DESIGN.md guarantee 1).
import type { Server as CoapServer, OutgoingMessage } from 'coap';
import { createRequire } from 'node:module';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { SourceProtocol } from '../../../../proto/src/wire.js';
import type { Metrics } from '../../metrics.js';
import type { Envelope } from '../../pipeline/types.js';
import type { Adapter, AdapterStatus, Ingest } from '../adapter.js';
import type { CoapConfig } from './config.js';
import { ExchangeTable } from './exchanges.js';
import { Code, Opt, codeString, emptyMessage, encodeMessage, parseMessage, type CoapMessage } from './message.js';
import { outcomeReply, unavailable, type Reply } from './reply.js';
import { routeRequest, type Route } from './route.js';

/**
 * Bytes of responses the coap package keeps for retransmission bookkeeping. Its default (32 MiB,
 * each entry holding a timer for up to 247 s) lets a flood of requests pin a lot of memory; our own
 * duplicate detection does not need its cache, only separate responses awaiting an ACK do.
 */
const RESPONSE_CACHE_BYTES = 256 * 1024;

const OPTION_NAMES: Readonly<Record<number, string>> = { [Opt.MAX_AGE]: 'Max-Age', [Opt.SIZE1]: 'Size1' };

/** A request the screen admitted, waiting for the coap server to give it a response object. */
interface Ticket {
  key: string;
  message: CoapMessage;
  route: Extract<Route, { kind: 'telemetry' }>;
  receivedMs: number;
  taken: boolean;
}

export class CoapAdapter implements Adapter {
  readonly name = 'coap';
  /** The UDP port actually bound (differs from cfg.port when that is 0). */
  boundPort = 0;
  /** Why datagrams did not become readings, for the status page. */
  readonly counts = { malformed: 0, duplicates: 0, refused: 0, busy: 0, unavailable: 0 };
  private socket?: Socket;
  private server?: CoapServer;
  private ingest?: Ingest;
  private readonly exchanges: ExchangeTable;
  private readonly inflight = new Set<Promise<void>>();
  /** Set only while the coap server is synchronously handling a datagram the screen passed it. */
  private dispatching?: Ticket;
  private stopping = false;
  private closed = false;
  private nextMessageId = Math.floor(Math.random() * 0x10000);

  constructor(
    private readonly cfg: CoapConfig,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.exchanges = new ExchangeTable(cfg.dedupEntries);
  }

  async start(ingest: Ingest): Promise<void> {
    this.ingest = ingest;
    const socket = createSocket({ type: isIPv6(this.cfg.host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.cfg.port, this.cfg.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    this.socket = socket;
    this.boundPort = socket.address().port;

    // Required when the adapter starts rather than imported: the coap package is about 18 MB of RSS
    // that a gateway with CoAP off never needs.
    const { Server } = createRequire(import.meta.url)('coap') as typeof import('coap');
    const server = new Server({
      piggybackReplyMs: this.cfg.piggybackMs,
      // §5.2.3: a Non-confirmable request gets its response as a Non-confirmable message.
      sendAcksForNonConfirmablePackets: true,
      cacheSize: RESPONSE_CACHE_BYTES,
    });
    server.on('request', (_req: unknown, res: OutgoingMessage) => this.onRequest(res));
    // The server re-emits socket errors; an 'error' event with no listener would end the process.
    server.on('error', (err: Error) => {
      this.metrics.count('coap', 'errors');
      this.log.warn({ err: err.message }, 'coap socket error');
    });
    server.listen(socket);
    // The server subscribed to our socket's datagrams; the screen takes its place in front.
    socket.removeAllListeners('message');
    const deliver = server.handleRequest();
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onDatagram(msg, rinfo, deliver));
    this.server = server;
    this.log.info({ port: this.boundPort }, 'coap listening');
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo, deliver: (msg: Buffer, rinfo: RemoteInfo) => void): void {
    this.metrics.count('coap', 'received');
    const parsed = parseMessage(msg);
    if (!parsed.ok) {
      this.drop('malformed', rinfo, parsed.reason);
      // §4.2: a Confirmable message with a format error is rejected with a Reset; anything else,
      // including a version we do not speak (§3), is silently ignored.
      if (parsed.header?.type === 'CON' && !parsed.reason.startsWith('version')) this.send(emptyMessage('RST', parsed.header.messageId), rinfo);
      return;
    }
    const m = parsed.message;
    if (m.code === Code.EMPTY) {
      // §4.2, §4.3: ACK and RST of our separate responses belong to the coap server's exchange
      // layer; an Empty CON is a ping, answered with RST; an Empty NON is ignored.
      if (m.type === 'ACK' || m.type === 'RST') this.pass(emptyMessage(m.type, m.messageId), rinfo, deliver, undefined);
      else if (m.type === 'CON') this.send(emptyMessage('RST', m.messageId), rinfo);
      else this.drop('malformed', rinfo, 'Empty NON');
      return;
    }
    if (m.code >> 5 !== 0 || m.type === 'ACK' || m.type === 'RST') {
      // A response (we send no requests), a reserved code class, or a request in an ACK/RST:
      // nothing we can process. §4.2: reject a CON with RST; silently ignore the rest.
      this.drop('malformed', rinfo, `code ${codeString(m.code)} in a ${m.type}`);
      if (m.type === 'CON') this.send(emptyMessage('RST', m.messageId), rinfo);
      return;
    }
    this.onRequestMessage(m, rinfo, deliver);
  }

  private onRequestMessage(m: CoapMessage, rinfo: RemoteInfo, deliver: (msg: Buffer, rinfo: RemoteInfo) => void): void {
    const now = Date.now();
    const key = ExchangeTable.key(rinfo.address, rinfo.port, m.messageId, m.token);
    const seen = this.exchanges.get(key, now);
    if (seen) {
      // §4.5: process a duplicate only once. A CON gets the same answer again, or, while the
      // first copy is still in the pipeline and past the piggyback window, the empty ACK again.
      this.counts.duplicates++;
      this.metrics.count('coap', 'dropped');
      if (m.type === 'CON') {
        if (seen.reply) this.answer(m, seen.reply, rinfo);
        else if (now - seen.startedMs >= this.cfg.piggybackMs) this.send(emptyMessage('ACK', m.messageId), rinfo);
      }
      return;
    }
    if (this.stopping) return; // the client retransmits, or tries again once we are back
    const route = routeRequest(m, this.cfg);
    if (route.kind === 'reply') {
      this.counts.refused++;
      this.metrics.count('coap', 'dropped');
      // Refused before a device was named (wrong resource, method or option): a gateway-wide count.
      this.metrics.refuse(null, route.reason);
      this.log.debug({ from: `${rinfo.address}:${rinfo.port}`, reason: route.reason }, 'coap request refused');
      this.answer(m, route.reply, rinfo);
      return;
    }
    if (this.inflight.size >= this.cfg.maxInflight) {
      this.counts.busy++;
      this.metrics.count('coap', 'errors');
      this.answer(m, unavailable(`${this.inflight.size} requests in flight`, this.cfg.unavailableMaxAgeS), rinfo);
      return;
    }
    this.exchanges.begin(key, now);
    const ticket: Ticket = { key, message: m, route, receivedMs: now, taken: false };
    // The method is POST and the path was checked; the server needs only type, ID and token.
    const header = encodeMessage({ type: m.type, code: Code.POST, messageId: m.messageId, token: m.token, options: [], payload: Buffer.alloc(0) });
    this.pass(header, rinfo, deliver, ticket);
    if (!ticket.taken) {
      // The coap server answered from its own response cache (a retransmission our table had
      // already forgotten): not a new reading.
      this.exchanges.forget(key);
      this.counts.duplicates++;
      this.metrics.count('coap', 'dropped');
    }
  }

  /** Hands a datagram the screen wrote to the coap server, which handles it synchronously. */
  private pass(msg: Buffer, rinfo: RemoteInfo, deliver: (msg: Buffer, rinfo: RemoteInfo) => void, ticket: Ticket | undefined): void {
    this.dispatching = ticket;
    try {
      deliver(msg, rinfo);
    } catch (err) {
      this.metrics.count('coap', 'errors');
      this.log.error({ err: (err as Error).message }, 'coap server failed on a datagram');
    } finally {
      this.dispatching = undefined;
    }
  }

  private onRequest(res: OutgoingMessage): void {
    const ticket = this.dispatching;
    this.dispatching = undefined;
    // A separate response not acknowledged within EXCHANGE_LIFETIME, or a send failure, is
    // emitted as 'error' on the response; unheard, that would end the process.
    res.on('error', (err: Error) => {
      this.metrics.count('coap', 'errors');
      this.log.debug({ err: err.message }, 'coap response not delivered');
    });
    if (!ticket) {
      // Only screened datagrams reach the server, each with a ticket; this is a bug if it happens.
      this.metrics.count('coap', 'errors');
      this.respond(res, unavailable('internal: request without a ticket', this.cfg.unavailableMaxAgeS));
      return;
    }
    ticket.taken = true;
    const p = this.process(ticket, res).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async process(ticket: Ticket, res: OutgoingMessage): Promise<void> {
    const { route, message } = ticket;
    const tooLarge = message.payload.length > this.cfg.maxPayloadBytes;
    const env: Envelope = {
      deviceId: route.deviceId,
      source: SourceProtocol.SOURCE_PROTOCOL_COAP,
      format: route.format,
      raw: tooLarge ? message.payload.subarray(0, this.cfg.maxPayloadBytes) : message.payload,
      receivedMs: ticket.receivedMs,
      topic: route.path,
      ...(route.preRejection ? { preRejection: route.preRejection } : {}),
    };
    let reply: Reply;
    try {
      const outcome = await this.ingest!(env);
      reply = outcomeReply(outcome, this.cfg);
      if (outcome.ok) this.metrics.count('coap', 'sent', outcome.values);
    } catch (err) {
      // The outbox could not commit: nothing is stored, so no 2.04 (DESIGN.md guarantee 1).
      this.counts.unavailable++;
      this.metrics.count('coap', 'errors');
      this.log.warn({ device: route.deviceId, err: (err as Error).message }, 'outbox refused a reading; answering 5.03');
      reply = unavailable((err as Error).message, this.cfg.unavailableMaxAgeS);
    }
    this.exchanges.complete(ticket.key, reply);
    this.respond(res, reply);
  }

  private respond(res: OutgoingMessage, reply: Reply): void {
    try {
      res.code = codeString(reply.code);
      for (const o of reply.options) {
        const name = OPTION_NAMES[o.number];
        if (name) res.setOption(name, o.value);
      }
      res.end(reply.payload);
    } catch (err) {
      this.metrics.count('coap', 'errors');
      this.log.warn({ err: (err as Error).message }, 'coap response could not be sent');
    }
  }

  /** An answer the screen sends itself: piggybacked on the ACK of a CON (§5.2.1), NON for NON (§5.2.3). */
  private answer(m: CoapMessage, reply: Reply, rinfo: RemoteInfo): void {
    const type = m.type === 'CON' ? 'ACK' : 'NON';
    const messageId = type === 'ACK' ? m.messageId : (this.nextMessageId = (this.nextMessageId + 1) & 0xffff);
    this.send(encodeMessage({ type, code: reply.code, messageId, token: m.token, options: reply.options, payload: reply.payload }), rinfo);
  }

  private send(buf: Buffer, rinfo: RemoteInfo): void {
    const socket = this.socket;
    if (!socket || this.closed) return;
    try {
      socket.send(buf, rinfo.port, rinfo.address, (err) => {
        if (err) {
          this.metrics.count('coap', 'errors');
          this.log.debug({ err: err.message }, 'coap send failed');
        }
      });
    } catch (err) {
      this.metrics.count('coap', 'errors');
      this.log.debug({ err: (err as Error).message }, 'coap send failed');
    }
  }

  private drop(kind: 'malformed', rinfo: RemoteInfo, reason: string): void {
    this.counts[kind]++;
    this.metrics.count('coap', 'dropped');
    this.log.debug({ from: `${rinfo.address}:${rinfo.port}`, reason }, 'coap datagram dropped');
  }

  status(): AdapterStatus {
    if (!this.socket || this.closed) return { name: this.name, state: 'down', detail: 'not listening' };
    const c = this.counts;
    return {
      name: this.name,
      state: 'up',
      detail:
        `UDP port ${this.boundPort}, ${this.inflight.size} in flight; ` +
        `${c.malformed} malformed, ${c.duplicates} duplicate, ${c.refused} refused, ${c.busy} busy, ${c.unavailable} unavailable`,
      counters: { ...c },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    // Let the last answers leave the socket before it closes.
    await new Promise((resolve) => setImmediate(resolve));
    this.server?.close();
    const socket = this.socket;
    if (socket && !this.closed) {
      this.closed = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  }
}
