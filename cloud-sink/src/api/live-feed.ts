// The live feed behind GET /v1/stream: one Kafka consumer per API process over the readings and
// alerts topics, fanned out to every connected client whose filter matches (stream-filter.ts).
//
// Why one consumer, not one per client: a consumer costs a broker connection, a group join of
// seconds and a fetch of every partition; per client, a thousand dashboards would be a thousand
// readers of the whole readings topic. Here each batch is fetched and decoded once per process.
//
// What it promises, and what not:
// - Live only. The group id is unique to the process and nothing is ever committed, so each start
//   (and each reconnection after a fatal Kafka error) begins at the end of every partition, and the
//   feed never moves another group's offsets. What happened before a client connected, or while
//   Kafka was away, is in the query API, not here.
// - Per client, frames keep the order of their partition: one gateway's batches, one alert's events.
//   Alert events are at least once (the relay's guarantee); `event.event_id` deduplicates them.
// - Never unbounded memory per client: a client whose unsent frames pass maxBufferedBytes is closed
//   with 1013 and counted, and one that stops answering pings is cut off.
// - The consumer runs while the API runs, client or not (a group join per first client would cost
//   that client its first seconds); batches are decoded only while some client wants readings.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { checkSchemaVersion, decodeBatch } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { GroupConsumer, type KafkaSettings } from '../consume/group-consumer.js';
import { CloudError, FieldlineError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import type { Principal } from './auth.js';
import { alertPasses, alertTarget, filterView, ReadingView, wantsGateway, type StreamFilter } from './stream-filter.js';

export type StreamSettings = CloudConfig['api']['stream'];

/** Close codes the stream uses (RFC 6455 section 7.4; 4000-4999 are the application's own). */
export const CLOSE = {
  /** The API process is stopping. */
  goingAway: 1001,
  /** The client did not read its frames fast enough (maxBufferedBytes). */
  tooSlow: 1013,
  /** The token expired while the stream was open: connect again with a fresh one. */
  tokenExpired: 4401,
} as const;

/** How long a dropped client's socket may take to finish its close handshake before it is cut. */
const CLOSE_GRACE_MS = 1_000;
/** How long stop() waits for clients to answer the 1001 close before it cuts them. */
const STOP_GRACE_MS = 2_000;
/** setTimeout's longest delay; a token that lives longer is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the feed needs of a client's WebSocket (a `ws` WebSocket has all of it). */
export interface StreamSocket {
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** A message from Kafka, as much of it as the feed reads. */
export interface FeedMessage {
  topic: string;
  value: Buffer | null | undefined;
}

/** A place held for a client between the checks before the upgrade and its socket's close. */
export interface Admission {
  readonly tokenKey: string;
  readonly released: boolean;
  release(): void;
}

export interface LiveFeedOptions {
  kafka: KafkaSettings;
  readingsTopic: string;
  alertsTopic: string;
  settings: StreamSettings;
  /** Most messages one poll hands over (kafka.maxBatchMessages). */
  maxBatchMessages: number;
  log: Logger;
}

export interface LiveFeedStats {
  /** Kafka messages consumed. */
  received: number;
  /** Frames sent to clients (readings, alerts, subscribed, errors). */
  sent: number;
  /** Messages that were no batch or no alert event. */
  undecodable: number;
  /** Clients closed for falling behind. */
  slowClients: number;
  /** Clients cut off for not answering a ping. */
  deadPeers: number;
  /** Clients closed because their token expired. */
  tokensExpired: number;
  /** Streams refused before the upgrade, per token (429) and per process (503). */
  refusedPerToken: number;
  refusedFull: number;
}

export class LiveFeed {
  private readonly clients = new Set<StreamClient>();
  private readonly perToken = new Map<string, number>();
  private held = 0;
  private readonly consumer: GroupConsumer | null;
  private pingTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly groupId: string;
  readonly stats: LiveFeedStats = {
    received: 0, sent: 0, undecodable: 0, slowClients: 0, deadPeers: 0, tokensExpired: 0, refusedPerToken: 0, refusedFull: 0,
  };

  /** `kafka: null` makes a feed without a consumer, fed by handle() (unit tests). */
  constructor(private readonly opts: LiveFeedOptions, kafka: 'kafka' | null = 'kafka') {
    this.groupId = `${opts.settings.groupPrefix}-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.consumer =
      kafka === null
        ? null
        : new GroupConsumer({
            name: 'stream',
            kafka: opts.kafka,
            topics: [opts.readingsTopic, opts.alertsTopic],
            group: this.groupId,
            clientId: 'fieldline-api-stream',
            maxBatchMessages: opts.maxBatchMessages,
            commit: 'manual',
            offsetReset: 'latest',
            log: opts.log,
            handle: async (messages: Kafka.Message[]) => this.handle(messages),
          });
  }

  get settings(): StreamSettings {
    return this.opts.settings;
  }

  start(): void {
    this.consumer?.start();
    this.pingTimer = setInterval(() => this.sweep(), this.opts.settings.pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Stops consuming and closes every client with 1001; cuts those that do not finish closing soon. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pingTimer);
    for (const c of this.clients) c.close(CLOSE.goingAway, 'server shutting down');
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.clients) c.socket.terminate();
    this.clients.clear();
    await this.consumer?.stop();
  }

  /** Clients attached and not yet closed (a dropped one counts until its socket closed). */
  open(): number {
    return this.clients.size;
  }

  /**
   * Holds a place for one more stream of `tokenKey`, or throws FL_ERR_API_STREAM_LIMIT (429) or
   * FL_ERR_API_STREAM_BUSY (503). Called before the upgrade; release() the admission when the
   * connection ends, whether or not it became a stream.
   */
  admit(tokenKey: string): Admission {
    const s = this.opts.settings;
    if (this.stopped || this.held >= s.maxClients) {
      this.stats.refusedFull++;
      throw new CloudError('FL_ERR_API_STREAM_BUSY', this.stopped ? 'the server is shutting down' : `${this.held} open`);
    }
    const mine = this.perToken.get(tokenKey) ?? 0;
    if (mine >= s.maxClientsPerToken) {
      this.stats.refusedPerToken++;
      throw new CloudError('FL_ERR_API_STREAM_LIMIT', `${mine} open`);
    }
    this.held++;
    this.perToken.set(tokenKey, mine + 1);
    let released = false;
    return {
      tokenKey,
      get released() {
        return released;
      },
      release: () => {
        if (released) return;
        released = true;
        this.held--;
        const n = (this.perToken.get(tokenKey) ?? 1) - 1;
        if (n <= 0) this.perToken.delete(tokenKey);
        else this.perToken.set(tokenKey, n);
      },
    };
  }

  /**
   * Starts sending to `socket`, first the `subscribed` frame with the filter in force. Returns null
   * (and closes the socket) when the feed stopped or the admission ended in between.
   */
  attach(admission: Admission, socket: StreamSocket, principal: Principal, filter: StreamFilter, tokenExpiresAtMs: number | null): StreamClient | null {
    if (this.stopped || admission.released) {
      socket.close(CLOSE.goingAway, 'server shutting down');
      admission.release();
      return null;
    }
    const client = new StreamClient(this, socket, principal, filter, admission);
    this.clients.add(client);
    if (tokenExpiresAtMs !== null) client.expireAt(tokenExpiresAtMs);
    client.sendSubscribed();
    return client;
  }

  /** Fans one poll's messages out to the clients; public so tests can feed it without Kafka. */
  handle(messages: readonly FeedMessage[]): void {
    for (const m of messages) {
      this.stats.received++;
      if (m.topic === this.opts.readingsTopic) this.fanOutBatch(m.value);
      else if (m.topic === this.opts.alertsTopic) this.fanOutAlert(m.value);
    }
  }

  /** One ping round: clients that did not answer the last ping are cut off, the rest pinged again. */
  sweep(): void {
    for (const c of this.clients) {
      if (c.dropped) continue;
      if (!c.alive) {
        this.stats.deadPeers++;
        this.opts.log.info({ subject: c.principal.subject }, 'stream client did not answer a ping; cut off');
        c.drop();
        c.socket.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.socket.ping();
      } catch {
        // Not open any more: its close event removes it.
      }
    }
  }

  tallies(): WorkerTallies {
    const s = this.stats;
    return {
      stage: 'stream',
      received: s.received,
      sent: s.sent,
      dropped: { slow_client: s.slowClients, dead_peer: s.deadPeers, undecodable: s.undecodable },
      errors: this.consumer?.stats.consumeErrors ?? 0,
    };
  }

  health(): Record<string, unknown> {
    const g = this.consumer?.stats;
    return {
      state: g?.state ?? 'stopped',
      group: this.groupId,
      partitions: this.consumer?.assignments().length ?? 0,
      clients: this.clients.size,
      lastError: g?.lastError ?? '',
      ...this.stats,
    };
  }

  /** @internal the client's socket closed. */
  forget(c: StreamClient): void {
    this.clients.delete(c);
  }

  /** @internal counts a frame and drops the client once it is too far behind. */
  afterSend(c: StreamClient): void {
    this.stats.sent++;
    if (c.socket.bufferedAmount <= this.opts.settings.maxBufferedBytes || c.dropped) return;
    this.stats.slowClients++;
    this.opts.log.info({ subject: c.principal.subject, buffered: c.socket.bufferedAmount }, 'stream client too slow; dropped');
    c.close(CLOSE.tooSlow, `too slow: over ${this.opts.settings.maxBufferedBytes} bytes waiting`);
  }

  /** @internal */
  noteExpired(): void {
    this.stats.tokensExpired++;
  }

  private fanOutBatch(value: Buffer | null | undefined): void {
    let wanting = false;
    for (const c of this.clients) if (!c.dropped && c.filter.kinds.has('readings')) wanting = true;
    if (!wanting || !value) {
      if (!value) this.stats.undecodable++;
      return;
    }
    let batch;
    try {
      batch = decodeBatch(value);
      checkSchemaVersion(batch.schemaVersion ?? 0);
    } catch {
      this.stats.undecodable++;
      return;
    }
    const gatewayId = batch.gatewayId ?? '';
    const targets = [...this.clients].filter((c) => !c.dropped && wantsGateway(c.filter, c.principal, gatewayId));
    if (targets.length === 0) return;
    for (const r of batch.readings ?? []) {
      const view = ReadingView.of(gatewayId, r.deviceId, r.tsMs, r.metrics);
      if (!view) continue;
      for (const c of targets) {
        if (c.dropped) continue;
        const frame = view.frameFor(c.filter);
        if (frame !== null) c.send(frame);
      }
    }
  }

  private fanOutAlert(value: Buffer | null | undefined): void {
    let event: unknown;
    try {
      event = JSON.parse(value?.toString('utf8') ?? '');
    } catch {
      this.stats.undecodable++;
      return;
    }
    const target = alertTarget(event);
    if (!target) {
      this.stats.undecodable++;
      return;
    }
    let frame: string | undefined;
    for (const c of this.clients) {
      if (c.dropped || !alertPasses(target, c.filter, c.principal)) continue;
      c.send((frame ??= JSON.stringify({ type: 'alert', event })));
    }
  }
}

/** One connected stream. */
export class StreamClient {
  /** Answered the last ping (or said anything) since it was sent. */
  alive = true;
  /** Closed or being closed: sent nothing more. */
  dropped = false;
  private expiry: NodeJS.Timeout | undefined;
  private cut: NodeJS.Timeout | undefined;

  constructor(
    private readonly feed: LiveFeed,
    readonly socket: StreamSocket,
    readonly principal: Principal,
    public filter: StreamFilter,
    private readonly admission: Admission,
  ) {}

  send(frame: string): void {
    if (this.dropped) return;
    this.socket.send(frame);
    this.feed.afterSend(this);
  }

  /** Replaces the filter (a subscribe message) and confirms it. */
  setFilter(f: StreamFilter): void {
    this.filter = f;
    this.sendSubscribed();
  }

  sendSubscribed(): void {
    this.send(JSON.stringify({ type: 'subscribed', ...filterView(this.filter) }));
  }

  sendError(err: FieldlineError): void {
    this.send(JSON.stringify({ type: 'error', ...err.toBody() }));
  }

  heard(): void {
    this.alive = true;
  }

  /** Closes with `code`; a peer that does not finish the handshake within a second is cut off. */
  close(code: number, reason: string): void {
    if (this.dropped) return;
    this.drop();
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
    this.cut = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    this.cut.unref();
  }

  /** Stops sending to it; the socket's close removes it. */
  drop(): void {
    this.dropped = true;
    clearTimeout(this.expiry);
  }

  expireAt(atMs: number): void {
    const wait = atMs - Date.now();
    if (wait <= 0) {
      this.feed.noteExpired();
      this.close(CLOSE.tokenExpired, 'token expired');
      return;
    }
    this.expiry = setTimeout(() => this.expireAt(atMs), Math.min(wait, MAX_TIMER_MS));
    this.expiry.unref();
  }

  /** The socket closed, however that came about. */
  closed(): void {
    this.drop();
    clearTimeout(this.cut);
    this.feed.forget(this);
    this.admission.release();
  }
}
