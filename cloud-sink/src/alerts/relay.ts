// The relay: publishes the alert events recordEvent wrote to alert_events (the transactional
// outbox) to iot.alerts, in seq order, and marks them published once Kafka confirmed them.
//
// Message: key alert_id (one alert's events stay on one partition, in order), value the stored
// payload as PostgreSQL renders the jsonb (`payload::text`), headers `event-id`, `event-type`,
// `content-type: application/json`.
//
// Guarantees (docs/ARCHITECTURE.md, "Alert events and webhooks"):
// - At least once on the topic. A row is marked published only after its delivery report, in the
//   transaction that read it; a crash between the two sends it again on restart. `event_id` is the
//   consumer's deduplication key.
// - Never reordered per alert. Rows go out in seq order; when a run fails part-way, only each
//   alert's confirmed prefix is marked, so what is sent again never overtakes what is not.
// - One publisher at a time across sink processes: each run is a transaction that starts with
//   pg_try_advisory_xact_lock; a process that does not get it skips the round.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { connectProducer, disconnectProducer, flushProducer, sleep, type KafkaSettings } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import { systemClock, type Clock } from '../fleet/aggregates.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { Nap } from '../consume/nap.js';

/** Any constant works, as long as every sink process uses the same one; distinct from the aggregates'. */
export const RELAY_LOCK_KEY = 0x46_4c_41_4c; // "FLAL"
/** Most events one run publishes; a relay with more waiting runs again at once. */
const BATCH = 500;
/** How long a run waits without a single delivery report before it gives up (a stall, not a total). */
const STALL_MS = 10_000;
/** Backoff after a failed run: from BACKOFF_MIN_MS doubling to BACKOFF_MAX_MS. */
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Published rows older than the retention are deleted at most this often. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface EventRelayOptions {
  db: Db;
  kafka: KafkaSettings;
  /** alerts.alertsTopic. */
  topic: string;
  /** alerts.relayIntervalMs: the poll when nothing pokes the relay. */
  intervalMs: number;
  /** alerts.eventRetentionMs: how long published rows stay in alert_events. */
  retentionMs: number;
  log: Logger;
  /** Stamps published_at and decides what retention has expired; tests pass their own. */
  clock?: Clock;
}

export interface RelayStats {
  state: 'idle' | 'running' | 'failing' | 'stopped';
  runs: number;
  /** Runs that found another process holding the relay lock. */
  skipped: number;
  /** Event rows read for publishing (read again after a failed run). */
  read: number;
  /** Events Kafka confirmed and that were marked published. */
  published: number;
  /** Failed runs (Kafka or database); the rows stay and are sent again. */
  errors: number;
  lastError: string;
  lastRunMs: number | null;
  /** Unpublished rows when the last run started, and the oldest one's created_at (epoch ms). */
  backlog: number;
  oldestPendingMs: number | null;
  /** Published rows deleted after the retention. */
  pruned: number;
}

interface EventRow {
  seq: number;
  event_id: string;
  alert_id: string;
  type: string;
  payload: string;
}

interface Deliveries {
  run: number;
  expected: number;
  /** seq of every row Kafka confirmed. */
  delivered: Set<number>;
  failed: number;
  firstError: string;
}

export class EventRelay {
  readonly stats: RelayStats = {
    state: 'idle', runs: 0, skipped: 0, read: 0, published: 0, errors: 0, lastError: '', lastRunMs: null,
    backlog: 0, oldestPendingMs: null, pruned: 0,
  };
  private readonly clock: Clock;
  private producer: Kafka.Producer | null = null;
  private connecting: Promise<Kafka.Producer> | null = null;
  private deliveries: Deliveries | null = null;
  private runSeq = 0;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly nap = new Nap();
  private poked = false;
  private lastPruneMs = -Infinity;

  constructor(private readonly opts: EventRelayOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Publishes every intervalMs, at once when poked, and again at once while behind, until stop(). */
  start(): void {
    this.stopped = false;
    // Connected ahead of the first event, so that one does not wait for the connection; a failure
    // here is only retried by the first run that has something to publish.
    this.ensureProducer().catch(() => undefined);
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nap.interrupt();
    await this.loopDone;
    await this.running;
    await this.connecting?.catch(() => undefined);
    const p = this.producer;
    this.producer = null;
    if (p) await disconnectProducer(p);
    this.stats.state = 'stopped';
  }

  /**
   * Publish now: the evaluator calls it right after committing events, so they reach the topic
   * without waiting for the interval. While Kafka is failing the backoff still applies.
   */
  poke(): void {
    this.poked = true;
    if (this.stats.state !== 'failing') this.nap.interrupt();
  }

  /**
   * One run: publishes up to a batch of unpublished events (in seq order) and marks them.
   * Resolves with whether more were waiting; throws FL_ERR_ALERTS_PUBLISH or a database error.
   * Runs are serialised, so a call made while the loop runs waits for it.
   */
  runOnce(): Promise<{ ran: boolean; published: number; behind: boolean }> {
    const next = this.running.then(() => this.run());
    this.running = next.catch(() => undefined);
    return next;
  }

  private async run(): Promise<{ ran: boolean; published: number; behind: boolean }> {
    this.stats.runs++;
    this.stats.lastRunMs = Date.now();
    await this.prune();
    // Outside any transaction: an idle relay costs one index lookup, and with Kafka away a run does
    // not hold a connection (all of the embedded database) while it finds out.
    const pending = await this.opts.db.query<{ n: number | string; oldest: Date | null }>(
      'SELECT count(*) AS n, min(created_at) AS oldest FROM alert_events WHERE published_at IS NULL',
    );
    this.stats.backlog = Number(pending.rows[0]?.n ?? 0);
    this.stats.oldestPendingMs = pending.rows[0]?.oldest?.getTime() ?? null;
    if (this.stats.backlog === 0) return { ran: true, published: 0, behind: false };
    const producer = await this.ensureProducer();
    // While Kafka is known to be away, ask it first, so a run does not hold the embedded
    // database's one connection waiting for delivery reports. Not on every run: the metadata round
    // trip cost 80 ms at the median (400 ms at worst) of each event's way out under load.
    if (this.stats.state === 'failing') await this.reachable(producer);

    let failure: unknown = null;
    const result = await this.opts.db.transaction(async (tx) => {
      const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [RELAY_LOCK_KEY]);
      if (!lock.rows[0]?.ok) return { ran: false, published: 0, behind: false };
      const rows = (
        await tx.query<EventRow>(
          `SELECT seq, event_id, alert_id, type, payload::text AS payload FROM alert_events
            WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
          [BATCH],
        )
      ).rows.map((r) => ({ ...r, seq: Number(r.seq) }));
      this.stats.read += rows.length;
      let confirmed: number[];
      try {
        await this.publish(producer, rows);
        confirmed = rows.map((r) => r.seq);
      } catch (err) {
        // Mark what Kafka has, so it is not sent again, but per alert only up to its first
        // unconfirmed event: marking a later one would let it overtake the one sent again.
        failure = err;
        confirmed = confirmedPrefix(rows, this.deliveries?.delivered ?? new Set());
      }
      if (confirmed.length > 0) {
        await tx.query('UPDATE alert_events SET published_at = $2 WHERE seq = ANY($1::int8[])', [confirmed, new Date(this.clock.now())]);
      }
      return { ran: true, published: confirmed.length, behind: rows.length === BATCH };
    }).finally(async () => {
      if (failure === null) return;
      // A fresh producer next run: whatever this one still queues is dropped with it (those rows are
      // unmarked and go again), and one whose idempotence state went fatal would fail every run.
      this.producer = null;
      await disconnectProducer(producer);
    });
    if (!result.ran) this.stats.skipped++;
    this.stats.published += result.published;
    if (failure !== null) throw failure;
    return result;
  }

  /** Produces the rows and resolves once Kafka confirmed every one; throws otherwise. */
  private async publish(producer: Kafka.Producer, rows: readonly EventRow[]): Promise<void> {
    const run = ++this.runSeq;
    const d: Deliveries = { run, expected: rows.length, delivered: new Set(), failed: 0, firstError: '' };
    this.deliveries = d;
    if (rows.length === 0) return;
    const fail = (why: string): CloudError =>
      new CloudError('FL_ERR_ALERTS_PUBLISH', `${why} (${d.delivered.size} of ${d.expected} delivered to ${this.opts.topic})`);
    let reported = 0;
    let progressAt = Date.now();
    const stalled = (): boolean => {
      const n = d.delivered.size + d.failed;
      if (n > reported) {
        reported = n;
        progressAt = Date.now();
      }
      return Date.now() - progressAt > STALL_MS;
    };
    for (const r of rows) {
      const headers: Kafka.MessageHeader[] = [{ 'event-id': r.event_id }, { 'event-type': r.type }, { 'content-type': 'application/json' }];
      for (;;) {
        try {
          producer.produce(this.opts.topic, null, Buffer.from(r.payload, 'utf8'), r.alert_id, null, { run, seq: r.seq }, headers);
          break;
        } catch (err) {
          if ((err as Kafka.LibrdKafkaError).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw fail((err as Error).message);
          if (stalled()) throw fail(`no delivery for ${STALL_MS} ms`);
          await sleep(10);
        }
      }
    }
    // A flush serves the delivery reports as they come, sooner than the producer's poll interval.
    while (d.delivered.size + d.failed < d.expected) {
      if (stalled()) throw fail(`no delivery for ${STALL_MS} ms`);
      await flushProducer(producer, 100).catch(() => undefined);
      if (d.delivered.size + d.failed < d.expected) await sleep(2);
    }
    if (d.failed > 0) throw fail(`${d.failed} failed: ${d.firstError}`);
  }

  private ensureProducer(): Promise<Kafka.Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async connect(): Promise<Kafka.Producer> {
    try {
      // Delivery reports: a row is marked published only once Kafka has it. A short linger: an
      // alert should be on the topic within about 100 ms of its commit.
      const p = await connectProducer(this.opts.kafka, 'fieldline-alerts-relay', { dr_cb: true, 'linger.ms': 2 });
      p.on('delivery-report', (err, report) => {
        const d = this.deliveries;
        const o = report.opaque as { run?: number; seq?: number } | undefined;
        if (!d || o?.run !== d.run || o.seq === undefined) return;
        if (err) {
          d.failed++;
          d.firstError ||= err.message;
        } else d.delivered.add(o.seq);
      });
      // The topic's partitions known before the first event: otherwise librdkafka holds it until
      // it has looked them up.
      await this.reachable(p).catch(() => undefined);
      this.producer = p;
      return p;
    } catch (err) {
      throw new CloudError('FL_ERR_ALERTS_PUBLISH', `Kafka unreachable: ${(err as Error).message}`);
    }
  }

  private reachable(producer: Kafka.Producer): Promise<void> {
    return new Promise((resolve, reject) =>
      producer.getMetadata({ topic: this.opts.topic, timeout: 5_000 }, (err) =>
        err ? reject(new CloudError('FL_ERR_ALERTS_PUBLISH', `Kafka unreachable: ${err.message}`)) : resolve(),
      ),
    );
  }

  private async prune(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastPruneMs < PRUNE_EVERY_MS) return;
    this.lastPruneMs = now;
    const gone = await this.opts.db.query<{ n: number | string }>(
      'WITH gone AS (DELETE FROM alert_events WHERE published_at < $1 RETURNING 1) SELECT count(*) AS n FROM gone',
      [new Date(now - this.opts.retentionMs)],
    );
    this.stats.pruned += Number(gone.rows[0]?.n ?? 0);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      let behind = false;
      this.poked = false;
      try {
        if (this.stats.state !== 'failing') this.stats.state = 'running';
        behind = (await this.runOnce()).behind;
        if (failures > 0) this.opts.log.info({ failures }, 'alert events publishing again');
        failures = 0;
        this.stats.state = 'idle';
        this.stats.lastError = '';
      } catch (err) {
        this.stats.errors++;
        this.stats.lastError = (err as Error).message;
        if (failures === 0) this.opts.log.warn({ err: (err as Error).message }, 'publishing alert events failed; they stay in the outbox and are retried');
        failures++;
        this.stats.state = 'failing';
      }
      if (this.stopped || (behind && failures === 0)) continue;
      const waitMs = failures > 0 ? Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(failures - 1, 10)) : this.opts.intervalMs;
      // A poke that came in during the run is served at once (unless backing off).
      if (this.poked && failures === 0) continue;
      await this.nap.take(waitMs);
    }
  }

  tallies(): WorkerTallies {
    const s = this.stats;
    return { stage: 'alerts-relay', received: s.read, sent: s.published, dropped: {}, errors: s.errors };
  }

  health(): Record<string, unknown> {
    const s = this.stats;
    return {
      state: s.state,
      backlog: s.backlog,
      oldestPending: s.oldestPendingMs === null ? null : new Date(s.oldestPendingMs).toISOString(),
      published: s.published,
      lastRunMs: s.lastRunMs,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
  }
}

/** The seqs of `rows` (in seq order) that may be marked published: per alert, those before its first unconfirmed one. */
export function confirmedPrefix(rows: readonly { seq: number; alert_id: string }[], delivered: ReadonlySet<number>): number[] {
  const blocked = new Set<string>();
  const out: number[] = [];
  for (const r of rows) {
    if (blocked.has(r.alert_id)) continue;
    if (delivered.has(r.seq)) out.push(r.seq);
    else blocked.add(r.alert_id);
  }
  return out;
}
