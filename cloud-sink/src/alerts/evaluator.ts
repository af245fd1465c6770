// The alert evaluator: the stream–table join of readings, heartbeats and quarantine records with the
// rule table from iot.rules, in its own consumer group.
//
// Event time. Each series (rule × device × metric) is judged in its readings' own time order; a
// reading not newer than the last one judged for its device and metric cannot move anything (so a
// stale value never resolves or flaps an alert), and is counted. A backlog drained after an outage
// is judged as the history it is: an alert it raises or resolves carries the readings' times and
// says it is late.
//
// The gateway's link. Absence ("no reading for N s") is judged against how far the cloud has heard
// from the device's gateway, not against the wall clock alone: while the gateway is offline or
// draining a backlog, a silent device is not absent — its readings are waiting in the gateway — and
// the gateway's own offline alert is the one alert raised. See `horizon`.
//
// Exactly once. State, the offsets it reflects and the alert changes it caused are checkpointed
// together (checkpoint.ts); Kafka's own committed offsets trail the checkpoint and only say where to
// start fetching. The evaluator's topics must be co-partitioned (same partition count, keyed by
// gateway id, as the gateway produces them), and the group uses the range assignor, so one member
// holds partition p of every topic: a gateway's readings, heartbeats and quarantine records meet in
// one evaluator.
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import { decodeBatch, decodeQuarantined } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { GroupConsumer, type PartitionRef } from '../consume/group-consumer.js';
import { CloudError } from '../errors.js';
import { heartbeatRecord, type HeartbeatRecord } from '../fleet/heartbeats.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { checkpointed, Fenced, loadPartition, newAlertId, PartitionState, writeCheckpoint, type OpenAlert, type RuleInfo } from './checkpoint.js';
import { anomalyStep, qualityStep, rateStep, thresholdStep, type Point, type Verdict } from './kinds.js';
import { globMatcher, targetKey, targetsDevice, targetsGateway, type ParamsOf, type Rule } from './rule.js';

/** The rule table the evaluator joins against (rules-table.ts, read from iot.rules). */
export interface RuleSource {
  ready(): Promise<void>;
  rules(): ReadonlyMap<string, Rule>;
  /** Moves on every change, so the evaluator knows to rebuild its index. */
  readonly version: number;
}

/** The gateway_degraded judgement: human-readable reasons, none when healthy. */
export type DegradedReasons = (hb: HeartbeatRecord, prev: HeartbeatRecord | null, params: ParamsOf<'gateway_degraded'>) => string[];

/** Called after a checkpoint recorded events, so the relay and the webhook deliverer go at once. */
export type EventsRecorded = () => void;

export interface EvaluatorOptions {
  cfg: Pick<CloudConfig, 'kafka' | 'alerts' | 'fleet'>;
  db: Db;
  rules: RuleSource;
  log: Logger;
  degradedReasons: DegradedReasons;
  onEvents?: EventsRecorded;
  now?: () => number;
}

export interface EvaluatorStats {
  readings: number;
  heartbeats: number;
  quarantined: number;
  /** Readings not newer than the last one judged for their device and metric. */
  outOfOrder: number;
  /** Messages that would not decode (the sink dead-letters them; here they are only skipped). */
  undecodable: number;
  fired: number;
  resolved: number;
  checkpoints: number;
  checkpointErrors: number;
  lastCheckpointMs: number | null;
  partitions: number[];
}

/** State entry kinds, by key prefix: `d|<device>`, `g|<gateway>`, `s|<rule>|<device or gateway>|<metric>`. */
interface DeviceEntry {
  gw: string;
  /** Newest reading time of any metric, and per metric. */
  last: number;
  metrics: Record<string, number>;
}

interface GatewayEntry {
  /** Newest heartbeat time (gateway clock, clamped to the cloud's); 0 when none yet. */
  heard: number;
  /** When this evaluator took that heartbeat in (cloud clock). */
  heardAt: number;
  intervalMs: number;
  oldestAgeMs: number;
  /** Newest reading time from the gateway: how far its data has arrived, in its own time. */
  maxReading: number;
  prev: HeartbeatRecord | null;
}

interface SeriesEntry {
  v: number;
  alert: OpenAlert | null;
  /** The kind's own state (kinds.ts). */
  k: Record<string, unknown>;
}

interface RuleIndex {
  byMetric: Map<string, Rule[]>;
  absence: Rule[];
  quality: Rule[];
  offline: Rule[];
  degraded: Rule[];
  globs: Map<string, (id: string) => boolean>;
  versions: Map<string, number>;
}

const SERIES_KINDS = new Set(['threshold', 'rate', 'anomaly']);

/** The evaluator's fetch.wait.max.ms: how stale the partitions' ends it judges by can be. */
const FETCH_WAIT_MS = 100;

export class AlertEvaluator {
  private readonly consumer: GroupConsumer;
  private readonly parts = new Map<number, PartitionState>();
  private readonly topics: string[];
  private index: RuleIndex = emptyIndex();
  private indexVersion = -1;
  private lock: Promise<unknown> = Promise.resolve();
  private tickTimer?: NodeJS.Timeout;
  private lastCheckpoint = 0;
  /** After failed checkpoints, none is tried before this (exponential backoff, up to 30 s). */
  private retryAt = 0;
  private failures = 0;
  private readonly now: () => number;
  private started = false;
  private stopping = false;
  /** "co-partitioned", or why not; null until the cluster's metadata was read. */
  private partitioning: string | null = null;
  readonly stats: EvaluatorStats = {
    readings: 0, heartbeats: 0, quarantined: 0, outOfOrder: 0, undecodable: 0, fired: 0, resolved: 0,
    checkpoints: 0, checkpointErrors: 0, lastCheckpointMs: null, partitions: [],
  };

  constructor(private readonly opts: EvaluatorOptions) {
    const { kafka, alerts } = opts.cfg;
    this.now = opts.now ?? Date.now;
    this.topics = [kafka.readingsTopic, kafka.heartbeatsTopic, kafka.quarantineTopic];
    this.consumer = new GroupConsumer({
      name: 'alerts',
      kafka,
      topics: this.topics,
      group: alerts.group,
      clientId: 'fieldline-alerts',
      maxBatchMessages: kafka.maxBatchMessages,
      commit: 'manual',
      log: opts.log,
      groupConfig: { 'partition.assignment.strategy': 'range', 'fetch.wait.max.ms': FETCH_WAIT_MS },
      handle: (messages) => this.locked(() => this.handle(messages)),
      onRevoke: (parts) => this.revoke(parts),
    });
  }

  /**
   * Starts once the rule table has caught up with iot.rules, so nothing is judged against a partial
   * table; until then (a rules topic not created yet, say) the evaluator waits, and says so on
   * /healthz. Resolves at once.
   */
  async start(): Promise<void> {
    void this.opts.rules.ready().then(
      () => {
        if (!this.stopping) this.run();
      },
      (err: Error) => {
        if (!this.stopping) this.opts.log.error({ err: err.message }, 'alert rules unavailable; the evaluator does not start');
      },
    );
  }

  private run(): void {
    this.consumer.start();
    this.started = true;
    let ticking = false;
    this.tickTimer = setInterval(() => {
      if (ticking) return; // a slow tick (broker or database) is not stacked up behind
      ticking = true;
      this.tick()
        .catch((err: Error) => this.opts.log.warn({ err: err.message }, 'alert evaluator tick failed'))
        .finally(() => (ticking = false));
    }, this.opts.cfg.alerts.tickMs);
    this.tickTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.tickTimer);
    if (!this.started) return;
    await this.consumer.stop();
    await this.locked(() => this.checkpoint(true));
  }

  tallies(): WorkerTallies {
    const s = this.stats;
    return {
      stage: 'alerts',
      received: s.readings + s.heartbeats + s.quarantined,
      sent: s.fired + s.resolved,
      dropped: { out_of_order: s.outOfOrder, undecodable: s.undecodable },
      errors: s.checkpointErrors,
    };
  }

  health(): Record<string, unknown> {
    return { state: this.started ? this.consumer.stats.state : 'waiting for the rule table', partitioning: this.partitioning, partitions: [...this.parts.keys()], lastCheckpointMs: this.stats.lastCheckpointMs, fired: this.stats.fired, resolved: this.stats.resolved };
  }

  /** Runs `fn` after everything queued before it: messages, ticks and checkpoints never interleave. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ---- messages ------------------------------------------------------------------------------

  private async handle(messages: Kafka.Message[]): Promise<void> {
    this.refreshIndex();
    const { kafka } = this.opts.cfg;
    for (const m of messages) {
      const part = await this.partition(m.partition);
      const next = part.offsets.get(m.topic);
      if (next !== undefined && m.offset < next) continue; // already in this state (a replay)
      part.offsets.set(m.topic, m.offset + 1);
      if (!m.value) continue;
      try {
        if (m.topic === kafka.readingsTopic) this.onBatch(part, m.value);
        else if (m.topic === kafka.heartbeatsTopic) this.onHeartbeat(part, m);
        else if (m.topic === kafka.quarantineTopic) this.onQuarantined(part, m.value);
      } catch (err) {
        if (err instanceof CloudError || (err as Error).name === 'WireError' || (err as { code?: string }).code?.startsWith('FL_ERR_')) {
          this.stats.undecodable++;
          continue;
        }
        throw err;
      }
    }
    await this.checkpointIfDue();
  }

  /** Checkpoints when the interval has passed or an alert changed; after failures, backs off. */
  private async checkpointIfDue(): Promise<void> {
    const now = this.now();
    if (now < this.retryAt) return;
    const due = now - this.lastCheckpoint >= this.opts.cfg.alerts.checkpointMs;
    if (due || [...this.parts.values()].some((p) => p.actions.length > 0)) await this.checkpoint(false);
  }

  private async partition(p: number): Promise<PartitionState> {
    let part = this.parts.get(p);
    if (!part) {
      part = await loadPartition(this.opts.db, this.opts.cfg.alerts.group, p, this.topics);
      this.parts.set(p, part);
      this.stats.partitions = [...this.parts.keys()].sort((a, b) => a - b);
      this.opts.log.debug({ partition: p, entries: part.entries.size, offsets: Object.fromEntries(part.offsets) }, 'alert state loaded');
    }
    return part;
  }

  private revoke(parts: PartitionRef[]): void {
    // What was not checkpointed is dropped: the next owner resumes from the checkpoint.
    for (const { partition } of parts) this.parts.delete(partition);
    this.stats.partitions = [...this.parts.keys()].sort((a, b) => a - b);
  }

  private onBatch(part: PartitionState, value: Buffer): void {
    const batch = decodeBatch(value);
    const gw = batch.gatewayId;
    const now = this.now();
    const late = this.opts.cfg.alerts.lateAfterMs;
    const gwEntry = this.gateway(part, gw);
    for (const r of batch.readings ?? []) {
      const deviceId = r.deviceId;
      const ts = Number(r.tsMs);
      if (!deviceId || !Number.isFinite(ts)) continue;
      const dKey = `d|${deviceId}`;
      const dev = part.get<DeviceEntry>(dKey) ?? { gw, last: 0, metrics: {} };
      dev.gw = gw;
      const fresh: Array<[string, number]> = [];
      for (const [metric, v] of Object.entries(r.metrics ?? {})) {
        const value = Number(v);
        if ((dev.metrics[metric] ?? -Infinity) >= ts) {
          this.stats.outOfOrder++;
          continue;
        }
        dev.metrics[metric] = ts;
        fresh.push([metric, value]);
      }
      this.stats.readings += fresh.length;
      if (fresh.length === 0) continue;
      if (ts > dev.last) dev.last = ts;
      if (ts > gwEntry.maxReading) gwEntry.maxReading = ts;
      // Only absence rules read a device's last times back after a restart: without one, the
      // entries stay in memory and the checkpoints skip a row per device per second.
      if (this.index.absence.length > 0) part.set(dKey, dev);
      else part.entries.set(dKey, dev as unknown as Record<string, unknown>);
      const isLate = now - ts > late;
      for (const [metric, value] of fresh) {
        for (const rule of this.index.byMetric.get(metric) ?? []) {
          if (!this.applies(rule, gw, deviceId)) continue;
          this.stepSeries(part, rule, gw, deviceId, metric, { ts, value }, isLate);
        }
        for (const rule of this.index.absence) {
          if (rule.target.metric !== undefined && rule.target.metric !== metric) continue;
          if (!this.applies(rule, gw, deviceId)) continue;
          this.resolveSeries(part, rule, `s|${rule.id}|${deviceId}|${rule.target.metric ?? ''}`, ts, isLate, null, `a reading at ${iso(ts)}`);
        }
      }
      for (const rule of this.index.quality) {
        if (rule.target.metric !== undefined && !fresh.some(([m]) => m === rule.target.metric)) continue;
        if (!this.applies(rule, gw, deviceId)) continue;
        this.stepQuality(part, rule, gw, deviceId, ts, 'accepted', isLate);
      }
    }
    part.touch(`g|${gw}`);
  }

  private onQuarantined(part: PartitionState, value: Buffer): void {
    const q = decodeQuarantined(value);
    this.stats.quarantined++;
    const deviceId = q.deviceId;
    const ts = Number(q.tsMs);
    if (!deviceId || !q.gatewayId || !Number.isFinite(ts) || ts <= 0) return;
    const isLate = this.now() - ts > this.opts.cfg.alerts.lateAfterMs;
    for (const rule of this.index.quality) {
      if (!this.applies(rule, q.gatewayId, deviceId)) continue;
      this.stepQuality(part, rule, q.gatewayId, deviceId, ts, 'quarantined', isLate);
    }
  }

  private onHeartbeat(part: PartitionState, m: Kafka.Message): void {
    const hb = heartbeatRecord(m);
    this.stats.heartbeats++;
    const now = this.now();
    const g = this.gateway(part, hb.gatewayId);
    const ts = Math.min(hb.tsMs, now);
    if (ts <= g.heard) return; // an older heartbeat (a replay, or one that waited) changes nothing
    const prev = g.prev;
    g.heard = ts;
    g.heardAt = now;
    g.intervalMs = hb.intervalMs ?? this.opts.cfg.fleet.health.defaultIntervalMs;
    g.oldestAgeMs = hb.outboxDepth > 0 ? hb.outboxOldestAgeMs : 0;
    g.prev = hb;
    part.touch(`g|${hb.gatewayId}`);
    const isLate = now - ts > this.opts.cfg.alerts.lateAfterMs;
    for (const rule of this.index.offline) {
      if (!targetsGateway(rule, hb.gatewayId)) continue;
      const p = rule.params as ParamsOf<'gateway_offline'>;
      if (now - ts <= p.intervals * g.intervalMs) {
        this.resolveSeries(part, rule, `s|${rule.id}|${hb.gatewayId}|`, ts, isLate, null, `heartbeat at ${iso(ts)}`);
      }
    }
    for (const rule of this.index.degraded) {
      if (!targetsGateway(rule, hb.gatewayId)) continue;
      const key = `s|${rule.id}|${hb.gatewayId}|`;
      const reasons = this.opts.degradedReasons(hb, prev, rule.params as ParamsOf<'gateway_degraded'>);
      const s = this.series(part, rule, key);
      if (reasons.length > 0 && !s.alert) {
        this.fire(part, rule, key, s, { gateway: hb.gatewayId }, ts, null, `gateway ${hb.gatewayId} degraded: ${reasons.join('; ')}`, isLate);
      } else if (reasons.length === 0 && s.alert) {
        this.resolveSeries(part, rule, key, ts, isLate, null, 'healthy again');
      }
    }
  }

  private gateway(part: PartitionState, gatewayId: string): GatewayEntry {
    const key = `g|${gatewayId}`;
    let g = part.get<GatewayEntry>(key);
    if (!g) {
      g = { heard: 0, heardAt: 0, intervalMs: this.opts.cfg.fleet.health.defaultIntervalMs, oldestAgeMs: 0, maxReading: 0, prev: null };
      part.set(key, g);
    }
    return g;
  }

  // ---- series -------------------------------------------------------------------------------

  private applies(rule: Rule, gatewayId: string, deviceId: string): boolean {
    return targetsDevice(rule, gatewayId, deviceId, this.index.globs.get(rule.id));
  }

  private series(part: PartitionState, rule: Rule, key: string): SeriesEntry {
    let s = part.get<SeriesEntry>(key);
    if (!s || s.v !== rule.version) {
      // A changed rule starts its series afresh, keeping only the alert it holds open.
      s = { v: rule.version, alert: s?.alert ?? null, k: {} };
      part.set(key, s);
    }
    return s;
  }

  private stepSeries(part: PartitionState, rule: Rule, gw: string, deviceId: string, metric: string, r: Point, late: boolean): void {
    const key = `s|${rule.id}|${deviceId}|${metric}`;
    const s = this.series(part, rule, key);
    const firing = s.alert !== null;
    let verdict: Verdict;
    switch (rule.kind) {
      case 'threshold':
        s.k.pendingSince ??= null;
        verdict = thresholdStep(s.k as never, rule.params as ParamsOf<'threshold'>, firing, r);
        break;
      case 'rate':
        s.k.window ??= [];
        verdict = rateStep(s.k as never, rule.params as ParamsOf<'rate'>, firing, r);
        break;
      case 'anomaly':
        s.k.n ??= 0;
        s.k.mean ??= 0;
        s.k.variance ??= 0;
        verdict = anomalyStep(s.k as never, rule.params as ParamsOf<'anomaly'>, firing, r);
        break;
      default:
        return;
    }
    part.touch(key);
    const what = `${deviceId} ${metric}`;
    if (verdict.holds === true && !firing) {
      this.fire(part, rule, key, s, { gateway: gw, device: deviceId, metric }, verdict.since ?? r.ts, r.value, `${what}: ${verdict.detail ?? ''}`, late);
    } else if (verdict.holds === false && firing) {
      this.resolveSeries(part, rule, key, r.ts, late, r.value, verdict.detail ?? '');
    }
  }

  private stepQuality(part: PartitionState, rule: Rule, gw: string, deviceId: string, ts: number, kind: 'accepted' | 'quarantined', late: boolean): void {
    const key = `s|${rule.id}|${deviceId}|${rule.target.metric ?? ''}`;
    const s = this.series(part, rule, key);
    s.k.slices ??= [];
    const firing = s.alert !== null;
    const verdict = qualityStep(s.k as never, rule.params as ParamsOf<'quality'>, firing, ts, kind);
    part.touch(key);
    if (verdict.holds === true && !firing) {
      this.fire(part, rule, key, s, { gateway: gw, device: deviceId, ...(rule.target.metric ? { metric: rule.target.metric } : {}) }, verdict.since ?? ts, null, `${deviceId}: ${verdict.detail ?? ''}`, late);
    } else if (verdict.holds === false && firing) {
      this.resolveSeries(part, rule, key, ts, late, null, verdict.detail ?? '');
    }
  }

  private fire(
    part: PartitionState,
    rule: Rule,
    key: string,
    s: SeriesEntry,
    target: { gateway?: string; device?: string; metric?: string },
    startedAt: number,
    value: number | null,
    message: string,
    late: boolean,
  ): void {
    const id = newAlertId();
    s.alert = { id, startedAt };
    part.touch(key);
    // Device alerts are keyed by device and metric, so one that moves to another gateway keeps its alert.
    const tKey = target.device !== undefined ? targetKey({ device: target.device, metric: target.metric }) : targetKey({ gateway: target.gateway });
    const text = late ? `${message} (raised late: the readings reached the cloud at ${iso(this.now())})` : message;
    part.actions.push({ kind: 'fire', key, alertId: id, ruleId: rule.id, targetKey: tKey, target, severity: rule.severity, value, message: text, startedAt, late });
  }

  private resolveSeries(part: PartitionState, rule: Rule, key: string, at: number, late: boolean, value: number | null, detail: string): void {
    const s = part.get<SeriesEntry>(key);
    if (!s?.alert) return;
    // The alert cannot end before it started: a reading from before then is history already judged.
    if (at < s.alert.startedAt) return;
    part.actions.push({ kind: 'resolve', key, alertId: s.alert.id, ruleId: rule.id, resolvedAt: at, late, value, detail: late ? `${detail} (late)` : detail });
    s.alert = null;
    part.touch(key);
  }

  // ---- the clock: absence and offline -------------------------------------------------------

  /**
   * How far, in the gateway's own time, the cloud has everything the gateway had to send: a device
   * silent since before `horizon - for_s` is absent. Live gateways: now, less the transit grace —
   * but never more than one heartbeat interval past the last heartbeat, so a gateway that just went
   * quiet is not taken for one whose devices all stopped. A gateway draining a backlog, or one this
   * evaluator has not yet read to the end since its last heartbeat: only as far as its readings
   * and its outbox's oldest entry show.
   */
  private horizon(part: PartitionState, g: GatewayEntry, now: number, confirmedAt: number | undefined): number {
    const { transitGraceMs, lateAfterMs } = this.opts.cfg.alerts;
    const known = g.maxReading;
    if (g.heard === 0) return known; // no heartbeat yet: the gateway's own progress only
    if (g.oldestAgeMs > lateAfterMs) return Math.max(known, g.heard - g.oldestAgeMs);
    if (confirmedAt === undefined || confirmedAt <= g.heardAt) return known;
    return Math.max(known, Math.min(now - transitGraceMs, g.heard + g.intervalMs));
  }

  private async tick(): Promise<void> {
    this.refreshIndex();
    if (this.partitioning === null) await this.checkPartitioning();
    // The partitions' ends as the consumer's fetches last saw them, taken before looking at how far
    // this evaluator has read: reaching them means everything written before checkStarted is in
    // its state. A fetch answers within FETCH_WAIT_MS even from an idle partition, so the ends are
    // at most that old (and a margin for the answer's way back). No broker round trip per tick:
    // queryWatermarkOffsets holds a libuv thread per call, and under load they time out.
    const checkStarted = this.now() - FETCH_WAIT_MS - 200;
    const ends = this.consumer.assignments().map((tp) => ({ tp, end: this.consumer.fetchedHighWatermark(tp) }));
    await this.locked(async () => {
      for (const { tp, end } of ends) {
        if (end === null) continue;
        const part = await this.partition(tp.partition);
        const pos = part.offsets.get(tp.topic) ?? 0;
        if (pos >= end) part.caughtUpAt.set(tp.topic, checkStarted);
      }
      const now = this.now();
      for (const part of this.parts.values()) {
        const confirmed = this.topics.every((t) => part.caughtUpAt.get(t) === checkStarted) ? checkStarted : undefined;
        // A partition this evaluator is still catching up on says nothing about the present.
        if (confirmed === undefined) continue;
        this.judgeOffline(part, now);
        this.judgeAbsence(part, now, confirmed);
      }
      await this.checkpointIfDue();
    });
  }

  /**
   * The join needs a gateway's messages on the same partition number of every topic. Kafka cannot
   * be told so; a mismatch is reported loudly (log, /healthz) rather than judged wrongly in silence.
   */
  private async checkPartitioning(): Promise<void> {
    const counts = await this.consumer.partitionCounts();
    if (!counts) return;
    const found = this.topics.map((t) => [t, counts.get(t)] as const);
    if (found.some(([, n]) => n === undefined)) return; // not created yet
    const distinct = new Set(found.map(([, n]) => n));
    this.partitioning = distinct.size === 1 ? 'co-partitioned' : `${new CloudError('FL_ERR_ALERTS_NOT_COPARTITIONED', found.map(([t, n]) => `${t}: ${n}`).join(', ')).message}`;
    if (distinct.size !== 1) this.opts.log.error({ partitions: Object.fromEntries(found) }, this.partitioning);
  }

  private judgeOffline(part: PartitionState, now: number): void {
    if (this.index.offline.length === 0) return;
    for (const [key, value] of part.entries) {
      if (!key.startsWith('g|')) continue;
      const g = value as unknown as GatewayEntry;
      if (g.heard === 0) continue;
      const gatewayId = key.slice(2);
      for (const rule of this.index.offline) {
        if (!targetsGateway(rule, gatewayId)) continue;
        const limit = (rule.params as ParamsOf<'gateway_offline'>).intervals * g.intervalMs;
        if (now - g.heard <= limit) continue;
        const sKey = `s|${rule.id}|${gatewayId}|`;
        const s = this.series(part, rule, sKey);
        if (s.alert) continue;
        const startedAt = g.heard + limit;
        const msg = `gateway ${gatewayId} offline: no heartbeat since ${iso(g.heard)} (${fmtS(limit)} = ${(rule.params as ParamsOf<'gateway_offline'>).intervals} intervals of ${fmtS(g.intervalMs)})`;
        this.fire(part, rule, sKey, s, { gateway: gatewayId }, startedAt, null, msg, now - startedAt > this.opts.cfg.alerts.lateAfterMs);
      }
    }
  }

  private judgeAbsence(part: PartitionState, now: number, confirmedAt: number): void {
    if (this.index.absence.length === 0) return;
    const horizons = new Map<string, number>();
    for (const [key, value] of part.entries) {
      if (!key.startsWith('d|')) continue;
      const dev = value as unknown as DeviceEntry;
      const deviceId = key.slice(2);
      for (const rule of this.index.absence) {
        if (!this.applies(rule, dev.gw, deviceId)) continue;
        const metric = rule.target.metric;
        const last = metric === undefined ? dev.last : dev.metrics[metric];
        if (last === undefined) continue;
        let h = horizons.get(dev.gw);
        if (h === undefined) {
          h = this.horizon(part, this.gateway(part, dev.gw), now, confirmedAt);
          horizons.set(dev.gw, h);
        }
        const forMs = (rule.params as ParamsOf<'absence'>).for_s * 1000;
        if (h - last <= forMs) continue;
        const sKey = `s|${rule.id}|${deviceId}|${metric ?? ''}`;
        const s = this.series(part, rule, sKey);
        if (s.alert) continue;
        const startedAt = last + forMs;
        const what = metric === undefined ? deviceId : `${deviceId} ${metric}`;
        const msg = `${what} absent: no reading for ${fmtS(forMs)} (last at ${iso(last)})`;
        this.fire(part, rule, sKey, s, { gateway: dev.gw, device: deviceId, ...(metric ? { metric } : {}) }, startedAt, null, msg, now - startedAt > this.opts.cfg.alerts.lateAfterMs);
      }
    }
  }

  // ---- rules --------------------------------------------------------------------------------

  private refreshIndex(): void {
    const src = this.opts.rules;
    if (src.version === this.indexVersion) return;
    this.indexVersion = src.version;
    const next = emptyIndex();
    for (const rule of src.rules().values()) {
      if (!rule.enabled) continue;
      next.versions.set(rule.id, rule.version);
      if (rule.target.device_pattern !== undefined) next.globs.set(rule.id, globMatcher(rule.target.device_pattern));
      if (SERIES_KINDS.has(rule.kind)) {
        const metric = rule.target.metric!;
        next.byMetric.set(metric, [...(next.byMetric.get(metric) ?? []), rule]);
      } else if (rule.kind === 'absence') next.absence.push(rule);
      else if (rule.kind === 'quality') next.quality.push(rule);
      else if (rule.kind === 'gateway_offline') next.offline.push(rule);
      else if (rule.kind === 'gateway_degraded') next.degraded.push(rule);
    }
    // The first absence rule: the devices' last times go into the next checkpoint.
    if (this.index.absence.length === 0 && next.absence.length > 0) {
      for (const part of this.parts.values()) for (const key of part.entries.keys()) if (key.startsWith('d|')) part.touch(key);
    }
    // Series of rules that are gone or disabled are forgotten (the API resolved their alerts).
    for (const part of this.parts.values()) {
      for (const key of [...part.entries.keys()]) {
        if (!key.startsWith('s|')) continue;
        const ruleId = key.slice(2, key.indexOf('|', 2));
        if (!next.versions.has(ruleId)) part.delete(key);
      }
    }
    this.index = next;
  }

  private ruleInfo(ruleId: string): RuleInfo {
    const rule = this.opts.rules.rules().get(ruleId);
    return { name: rule?.name ?? ruleId, ...(rule?.webhook ? { webhook: rule.webhook } : {}) };
  }

  // ---- checkpoints --------------------------------------------------------------------------

  private async checkpoint(final: boolean): Promise<void> {
    this.lastCheckpoint = this.now();
    const { group } = this.opts.cfg.alerts;
    let events = 0;
    let failed = false;
    const commits: Kafka.TopicPartitionOffset[] = [];
    for (const part of [...this.parts.values()]) {
      if (!part.changed) continue;
      try {
        const r = await this.opts.db.transaction((tx) => writeCheckpoint(tx, group, part, (id) => this.ruleInfo(id), this.now()));
        const fired = part.actions.filter((a) => a.kind === 'fire').length;
        const resolved = part.actions.length - fired;
        // A firing that found the alert already open follows that alert from now on.
        const adoptedKeys: string[] = [];
        for (const a of part.actions) {
          const real = r.adopted.get(a.alertId);
          const s = real ? part.get<SeriesEntry>(a.key) : undefined;
          if (s?.alert?.id === a.alertId) {
            s.alert.id = real!;
            adoptedKeys.push(a.key);
          }
        }
        checkpointed(part);
        for (const key of adoptedKeys) part.touch(key);
        events += r.events;
        this.stats.fired += fired;
        this.stats.resolved += resolved;
        for (const [topic, offset] of part.offsets) commits.push({ topic, partition: part.partition, offset });
      } catch (err) {
        this.stats.checkpointErrors++;
        failed = true;
        if (err instanceof Fenced) {
          // Another evaluator owns it now; what this one held is stale.
          this.opts.log.warn({ err: err.message }, 'alert state fenced off; dropping it');
          this.parts.delete(part.partition);
          if (!final) throw err; // reconnect: the group hands the partitions out again
        } else {
          this.opts.log.warn({ err: (err as Error).message, partition: part.partition }, 'alert checkpoint failed; kept in memory for the next one');
        }
      }
    }
    if (failed) {
      this.failures++;
      this.retryAt = this.now() + Math.min(30_000, this.opts.cfg.alerts.checkpointMs * 2 ** Math.min(this.failures, 10));
    } else {
      this.failures = 0;
      this.retryAt = 0;
    }
    this.stats.checkpoints++;
    this.stats.lastCheckpointMs = this.now();
    if (events > 0) this.opts.onEvents?.();
    this.consumer.commit(commits);
  }
}

function emptyIndex(): RuleIndex {
  return { byMetric: new Map(), absence: [], quality: [], offline: [], degraded: [], globs: new Map(), versions: new Map() };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const fmtS = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`);
