// Publishes readings_1m to iot.aggregates.1m for downstream consumers: one JSON message per
// (device, metric, minute), key device_id, value
//   {"device_id", "metric", "bucket" (RFC 3339), "avg", "min", "max", "count", "last"}.
// Downstream treats the last message per (device, metric, bucket) as current: a minute that gets
// readings after it was published is published again, corrected.
//
// How (docs/ARCHITECTURE.md, "Per-minute aggregates"):
// - A minute is published once it ended fleet.aggregates.graceMs ago. Progress is a watermark in
//   aggregate_progress: every minute before `published_to` has been published. A run reads the
//   minutes from the watermark up, produces them, waits for every delivery report, and only then
//   commits the new watermark, so a crash or a Kafka failure publishes again, never skips.
// - The run is one transaction that starts with pg_try_advisory_xact_lock: when several sink
//   processes share a database, one publishes and the others skip that round.
// - Late readings: whoever stores readings tells the publisher which (device, metric, minute) they
//   touched once that minute may already be published (noteLate / noteBatches, then flushLate,
//   which records them in aggregate_late). The next run publishes those minutes again, computed from
//   `readings` itself: on TimescaleDB, readings_1m keeps showing a materialised minute's old values
//   until the continuous aggregate is refreshed, so for a minute known to have changed it cannot be
//   trusted. The notes are in the database, so they survive a restart and reach whichever process
//   publishes.
import Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { Reading } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { connectProducer, disconnectProducer, flushProducer, sleep } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db, DbTx } from '../store/db.js';
import { Nap } from '../consume/nap.js';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const MINUTE_MS = 60_000;
/** The key of this stream's row in aggregate_progress. */
const STREAM = '1m';
/** Any constant works; it only has to be the same in every sink process. */
export const PUBLISH_LOCK_KEY = 0x46_4c_41_47; // "FLAG"
/**
 * Clock difference allowed between the process that notes a late reading, the one that publishes,
 * and the database server (which decides when a continuous aggregate materialises a minute).
 */
const LATE_MARGIN_MS = 10_000;
/**
 * How long a run waits without a single delivery report before it gives up and tries again later.
 * A stall, not a total: a catch-up run of many minutes may take longer than this and still succeed.
 */
const STALL_MS = 10_000;
const NOTE_CHUNK = 10_000;

export function floorMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

/** One (device, metric, minute) of readings_1m. */
export interface MinuteAggregate {
  deviceId: string;
  metric: string;
  /** The minute's start, epoch ms (UTC minute boundary). */
  bucketMs: number;
  avg: number;
  min: number;
  max: number;
  count: number;
  last: number;
}

/** The message for one minute: key device_id (a device's minutes stay in one partition, in order), JSON value. */
export function aggregateMessage(a: MinuteAggregate): { key: string; value: Buffer } {
  const value = {
    device_id: a.deviceId,
    metric: a.metric,
    bucket: new Date(a.bucketMs).toISOString(),
    avg: a.avg,
    min: a.min,
    max: a.max,
    count: a.count,
    last: a.last,
  };
  return { key: a.deviceId, value: Buffer.from(JSON.stringify(value)) };
}

/** What a writer of readings needs of the publisher: AggregatePublisher implements it. */
export interface LateMinutes {
  noteLate(deviceId: string, metric: string, minuteStartMs: number): void;
  noteBatches(batches: Iterable<{ readings?: readonly Reading[] | null }>): void;
  flushLate(): Promise<void>;
}

export interface PublishRun {
  /** False when another process held the publisher lock, so this one did nothing. */
  ran: boolean;
  /** The watermark before and after the run, epoch ms: every minute before toMs is published. */
  fromMs: number | null;
  toMs: number | null;
  /** Messages published, corrections included. */
  messages: number;
  /** Of those, minutes published before (bucket earlier than fromMs). */
  corrections: number;
  /** More minutes or corrections are due already: run again without waiting. */
  behind: boolean;
}

export interface AggregateStats {
  state: 'idle' | 'running' | 'failing' | 'stopped';
  runs: number;
  /** Runs that found another process publishing. */
  skipped: number;
  /** Minute aggregates read for publishing. */
  rowsRead: number;
  /** Messages Kafka confirmed, corrections included. */
  messages: number;
  corrections: number;
  /** Late minutes recorded for correction. */
  lateNoted: number;
  /** Failed runs (Kafka or database); each is retried from the same watermark. */
  errors: number;
  lastError: string;
  lastRunMs: number | null;
  /** The watermark this process last saw, epoch ms. */
  publishedToMs: number | null;
}

export interface AggregatePublisherOptions {
  db: Db;
  kafka: CloudConfig['kafka'];
  settings: CloudConfig['fleet']['aggregates'];
  log: Logger;
  /** Decides which minutes are closed; tests pass their own. */
  clock?: Clock;
}

interface LateMinute {
  deviceId: string;
  metric: string;
  bucketMs: number;
}

interface Deliveries {
  run: number;
  expected: number;
  delivered: number;
  failed: number;
  firstError: string;
}

const REGULAR = `
  SELECT device_id, metric, bucket, avg, min, max, count, last
    FROM readings_1m
   WHERE bucket >= timestamptz 'epoch' + $1::float8 * INTERVAL '1 millisecond'
     AND bucket <  timestamptz 'epoch' + $2::float8 * INTERVAL '1 millisecond'`;

// sum/count rather than avg(): avg(float8) also sums squares, which overflows near MAX_ABS_VALUE.
const FROM_READINGS = `
  WITH n AS (
    SELECT u.device_id, u.metric, timestamptz 'epoch' + u.ms * INTERVAL '1 millisecond' AS bucket
      FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(device_id, metric, ms))
  SELECT n.device_id, n.metric, n.bucket, sum(r.value) / count(*) AS avg, min(r.value) AS min, max(r.value) AS max,
         count(*) AS count, (array_agg(r.value ORDER BY r.ts DESC))[1] AS last
    FROM n JOIN readings r
      ON r.device_id = n.device_id AND r.metric = n.metric AND r.ts >= n.bucket AND r.ts < n.bucket + INTERVAL '1 minute'
   GROUP BY n.device_id, n.metric, n.bucket`;

const NOTE = `
  INSERT INTO aggregate_late (device_id, metric, bucket)
  SELECT u.device_id, u.metric, timestamptz 'epoch' + u.ms * INTERVAL '1 millisecond'
    FROM unnest($1::text[], $2::text[], $3::float8[]) AS u(device_id, metric, ms)
   ORDER BY 1, 2, 3
  ON CONFLICT (device_id, metric, bucket) DO UPDATE SET gen = nextval('aggregate_late_gen'), noted_at = now()`;

interface AggregateRow {
  device_id: string;
  metric: string;
  bucket: Date;
  avg: number;
  min: number;
  max: number;
  count: number | bigint | string;
  last: number;
}

export class AggregatePublisher implements LateMinutes {
  readonly stats: AggregateStats = {
    state: 'idle', runs: 0, skipped: 0, rowsRead: 0, messages: 0, corrections: 0, lateNoted: 0, errors: 0,
    lastError: '', lastRunMs: null, publishedToMs: null,
  };
  private readonly clock: Clock;
  private readonly pending = new Map<string, LateMinute>();
  private noting: Promise<void> = Promise.resolve();
  private running: Promise<unknown> = Promise.resolve();
  private producer: Kafka.Producer | null = null;
  private deliveries: Deliveries | null = null;
  private runSeq = 0;
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly nap = new Nap();

  constructor(private readonly opts: AggregatePublisherOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * How long after a minute's start a reading into it counts as late: once the minute may be
   * published (it ended graceMs ago) or materialised by TimescaleDB (its refresh policy, and the
   * embedded refresh, stop one minute short of now), whichever comes first; less the clock margin.
   */
  private get lateAfterMs(): number {
    return MINUTE_MS + Math.min(this.opts.settings.graceMs, MINUTE_MS) - LATE_MARGIN_MS;
  }

  // --- late readings ---------------------------------------------------------------------------

  /**
   * Notes that readings were stored into this minute of (deviceId, metric); a minute too recent to
   * have been published is ignored. Call flushLate() before acknowledging the readings' source.
   */
  noteLate(deviceId: string, metric: string, minuteStartMs: number): void {
    const bucketMs = floorMinute(minuteStartMs);
    if (bucketMs + this.lateAfterMs > this.clock.now()) return;
    if (!deviceId || !metric || deviceId.includes('\u0000') || metric.includes('\u0000')) return;
    this.pending.set(`${deviceId}\u0000${metric}\u0000${bucketMs}`, { deviceId, metric, bucketMs });
  }

  /** noteLate for every value of these batches' readings (what the store consumer just ingested). */
  noteBatches(batches: Iterable<{ readings?: readonly Reading[] | null }>): void {
    const cutoff = this.clock.now() - this.lateAfterMs;
    for (const b of batches) {
      for (const r of b.readings ?? []) {
        if (typeof r.tsMs !== 'number' || floorMinute(r.tsMs) > cutoff || !r.deviceId) continue;
        for (const metric of Object.keys(r.metrics ?? {})) this.noteLate(r.deviceId, metric, r.tsMs);
      }
    }
  }

  /**
   * Records the noted minutes in the database (aggregate_late). Once it resolves they survive a
   * restart and are corrected by whichever process publishes; when it throws they stay noted here
   * and the next call tries again. The store consumer awaits it before committing its offsets.
   */
  flushLate(): Promise<void> {
    const next = this.noting.then(() => this.writeNotes());
    this.noting = next.catch(() => undefined);
    return next;
  }

  private async writeNotes(): Promise<void> {
    if (this.pending.size === 0) return;
    const notes = [...this.pending.entries()];
    this.pending.clear();
    try {
      for (let i = 0; i < notes.length; i += NOTE_CHUNK) {
        const chunk = notes.slice(i, i + NOTE_CHUNK).map(([, n]) => n);
        await this.opts.db.query(NOTE, [chunk.map((n) => n.deviceId), chunk.map((n) => n.metric), chunk.map((n) => n.bucketMs)]);
      }
      this.stats.lateNoted += notes.length;
    } catch (err) {
      for (const [k, n] of notes) if (!this.pending.has(k)) this.pending.set(k, n);
      throw err;
    }
  }

  // --- publishing ------------------------------------------------------------------------------

  /** Publishes every minute that is due and every noted correction (up to the per-run limits). */
  runOnce(): Promise<PublishRun> {
    const next = this.running.then(() => this.run());
    this.running = next.catch(() => undefined);
    return next;
  }

  private async run(): Promise<PublishRun> {
    await this.flushLate();
    const producer = await this.ensureProducer();
    // Checked before the transaction: with Kafka away, a run would otherwise hold its database
    // connection (all of the embedded database) for the whole delivery timeout.
    await this.reachable(producer);
    const now = this.clock.now();
    const { graceMs, maxMinutesPerRun, maxCorrectionsPerRun } = this.opts.settings;
    const result = await this.opts.db.transaction(async (tx): Promise<PublishRun> => {
      const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [PUBLISH_LOCK_KEY]);
      if (!lock.rows[0]?.ok) return { ran: false, fromMs: null, toMs: null, messages: 0, corrections: 0, behind: false };
      const from = await this.watermark(tx, floorMinute(now - graceMs - this.opts.settings.backfillMs));
      const due = floorMinute(now - graceMs);
      const to = Math.max(from, Math.min(due, from + maxMinutesPerRun * MINUTE_MS));

      // Notes first, then the aggregates: a note recorded after this read survives the run (its gen
      // is not among those deleted below), so a reading the reads below miss is corrected next run.
      const notes = (
        await tx.query<{ device_id: string; metric: string; bucket: Date; gen: number | bigint | string }>(
          `SELECT device_id, metric, bucket, gen FROM aggregate_late
            WHERE bucket < timestamptz 'epoch' + $1::float8 * INTERVAL '1 millisecond'
            ORDER BY bucket, device_id, metric LIMIT $2`,
          [to, maxCorrectionsPerRun],
        )
      ).rows;
      const byKey = new Map<string, MinuteAggregate>();
      const put = (r: AggregateRow): void => {
        const a = minuteAggregate(r);
        byKey.set(`${a.deviceId}\u0000${a.metric}\u0000${a.bucketMs}`, a);
      };
      if (to > from) for (const r of (await tx.query<AggregateRow>(REGULAR, [from, to])).rows) put(r);
      if (notes.length > 0) {
        const raw = await tx.query<AggregateRow>(FROM_READINGS, [notes.map((n) => n.device_id), notes.map((n) => n.metric), notes.map((n) => n.bucket.getTime())]);
        for (const r of raw.rows) put(r);
      }
      const minutes = [...byKey.values()].sort(
        (a, b) => a.bucketMs - b.bucketMs || cmp(a.deviceId, b.deviceId) || cmp(a.metric, b.metric),
      );
      this.stats.rowsRead += minutes.length;

      try {
        await this.publish(producer, minutes);
      } catch (err) {
        // A fresh producer next run: one whose idempotence state went fatal would fail every run.
        this.producer = null;
        void disconnectProducer(producer);
        throw err;
      }

      await tx.query(
        `UPDATE aggregate_progress SET published_to = timestamptz 'epoch' + $2::float8 * INTERVAL '1 millisecond', updated_at = now()
          WHERE stream = $1`,
        [STREAM, to],
      );
      if (notes.length > 0) {
        const gens = notes.map((n) => String(n.gen));
        // Rows locked in key order, the order the notes are written in, so the two cannot deadlock.
        await tx.query(`SELECT 1 FROM aggregate_late WHERE gen = ANY($1::int8[]) ORDER BY device_id, metric, bucket FOR UPDATE`, [gens]);
        await tx.query(`DELETE FROM aggregate_late WHERE gen = ANY($1::int8[])`, [gens]);
      }
      const corrections = minutes.filter((m) => m.bucketMs < from).length;
      return { ran: true, fromMs: from, toMs: to, messages: minutes.length, corrections, behind: to < due || notes.length >= maxCorrectionsPerRun };
    });
    this.stats.runs++;
    this.stats.lastRunMs = Date.now();
    if (!result.ran) this.stats.skipped++;
    else {
      this.stats.messages += result.messages;
      this.stats.corrections += result.corrections;
      this.stats.publishedToMs = result.toMs;
    }
    return result;
  }

  /** The stream's watermark, created at `start` on a database's first run. */
  private async watermark(tx: DbTx, start: number): Promise<number> {
    await tx.query(
      `INSERT INTO aggregate_progress (stream, published_to) VALUES ($1, timestamptz 'epoch' + $2::float8 * INTERVAL '1 millisecond')
       ON CONFLICT (stream) DO NOTHING`,
      [STREAM, start],
    );
    const r = await tx.query<{ published_to: Date }>('SELECT published_to FROM aggregate_progress WHERE stream = $1', [STREAM]);
    return r.rows[0]!.published_to.getTime();
  }

  /** Produces the messages and resolves once Kafka has confirmed every one; throws otherwise. */
  private async publish(producer: Kafka.Producer, minutes: readonly MinuteAggregate[]): Promise<void> {
    if (minutes.length === 0) return;
    const run = ++this.runSeq;
    const d: Deliveries = { run, expected: minutes.length, delivered: 0, failed: 0, firstError: '' };
    this.deliveries = d;
    const fail = (why: string): CloudError =>
      new CloudError('FL_ERR_FLEET_PUBLISH', `${why} (${d.delivered} of ${d.expected} delivered to ${this.opts.kafka.aggregatesTopic})`);
    let reported = 0;
    let progressAt = Date.now();
    const stalled = (): boolean => {
      if (d.delivered + d.failed > reported) {
        reported = d.delivered + d.failed;
        progressAt = Date.now();
      }
      return Date.now() - progressAt > STALL_MS;
    };
    for (const m of minutes) {
      const { key, value } = aggregateMessage(m);
      for (;;) {
        try {
          producer.produce(this.opts.kafka.aggregatesTopic, null, value, key, null, run);
          break;
        } catch (err) {
          // The local queue is full: the poll loop frees it as deliveries complete.
          if ((err as Kafka.LibrdKafkaError).code !== Kafka.CODES.ERRORS.ERR__QUEUE_FULL) throw fail((err as Error).message);
          if (stalled()) throw fail(`no delivery for ${STALL_MS} ms`);
          await sleep(20);
        }
      }
    }
    // Delivery reports reach JavaScript through the poll loop, a moment after librdkafka has them.
    while (d.delivered + d.failed < d.expected) {
      if (stalled()) throw fail(`no delivery for ${STALL_MS} ms`);
      await flushProducer(producer, 500).catch(() => undefined);
      await sleep(10);
    }
    if (d.failed > 0) throw fail(`${d.failed} failed: ${d.firstError}`);
  }

  private async ensureProducer(): Promise<Kafka.Producer> {
    if (this.producer) return this.producer;
    // Delivery reports: a flush returns once the queue is empty, delivered or not, and the
    // watermark must only move over messages Kafka has.
    const p = await connectProducer(this.opts.kafka, 'fieldline-sink-aggregates', { dr_cb: true });
    p.on('delivery-report', (err, report) => {
      const d = this.deliveries;
      if (!d || report.opaque !== d.run) return;
      if (err) {
        d.failed++;
        d.firstError ||= err.message;
      } else d.delivered++;
    });
    this.producer = p;
    return p;
  }

  private reachable(producer: Kafka.Producer): Promise<void> {
    return new Promise((resolve, reject) =>
      producer.getMetadata({ topic: this.opts.kafka.aggregatesTopic, timeout: 5_000 }, (err) =>
        err ? reject(new CloudError('FL_ERR_FLEET_PUBLISH', `Kafka unreachable: ${err.message}`)) : resolve(),
      ),
    );
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /** Runs every intervalMs (at once again while behind) until stop(). */
  start(): void {
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nap.interrupt();
    await this.loopDone;
    await this.running;
    await this.flushLate().catch((err: Error) => this.opts.log.warn({ err: err.message }, 'late minutes not recorded at stop'));
    const p = this.producer;
    this.producer = null;
    if (p) await disconnectProducer(p);
    this.stats.state = 'stopped';
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let behind = false;
      try {
        this.stats.state = 'running';
        behind = (await this.runOnce()).behind;
        this.stats.state = 'idle';
        this.stats.lastError = '';
      } catch (err) {
        this.stats.errors++;
        this.stats.lastError = (err as Error).message;
        if (this.stats.state !== 'failing') this.opts.log.warn({ err: (err as Error).message }, 'publishing aggregates failed; retrying');
        this.stats.state = 'failing';
      }
      if (!behind && !this.stopped) {
        await this.nap.take(this.opts.settings.intervalMs);
      }
    }
  }

  tallies(): WorkerTallies {
    const s = this.stats;
    return { stage: 'aggregates', received: s.rowsRead, sent: s.messages, dropped: {}, errors: s.errors };
  }

  health(): Record<string, unknown> {
    const s = this.stats;
    return {
      state: s.state,
      publishedTo: s.publishedToMs === null ? null : new Date(s.publishedToMs).toISOString(),
      lastRunMs: s.lastRunMs,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
  }
}

function minuteAggregate(r: AggregateRow): MinuteAggregate {
  return {
    deviceId: r.device_id,
    metric: r.metric,
    bucketMs: r.bucket.getTime(),
    avg: Number(r.avg),
    min: Number(r.min),
    max: Number(r.max),
    count: Number(r.count),
    last: Number(r.last),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
