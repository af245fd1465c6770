// Consumes iot.readings in the lake's own consumer group and writes the Parquet lake (DESIGN.md
// "Lake"), each reading exactly once across crashes, replays and rebalances.
//
// How, in short (docs/ARCHITECTURE.md has the long form):
// - Each assigned partition has a buffer that is strictly contiguous from the group's committed
//   offset: a message is taken only if its offset is the one expected next. Anything else is a
//   stale message (prefetched before a rebalance) or a replayed one, and is dropped.
// - A buffer is rolled into a *range* [start, end]: one Parquet file per UTC hour its readings
//   touch, all named after the range. Before any file of a range is put in place, a manifest
//   keyed by (partition, start) is created exclusively; it fixes where the range ends.
// - Whoever starts a range at an offset first looks for that offset's manifest. If there is one, a
//   writer before it got that far and maybe no further than some of the renames: the range ends
//   where the manifest says, and the same files (same names, same rows) are written again. So
//   however the rolls fall on a replay, no reading ends up in two files.
// - The range's next offset is committed only after all its files are in place, and only while
//   the partition is still ours.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Kafka from 'node-rdkafka';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { CloudError, FieldlineError } from '../errors.js';
import type { WorkerTallies } from '../metrics.js';
import {
  connectProducer,
  disconnectProducer,
  GroupConsumer,
  partitionKey,
  sleep,
  type PartitionRef,
} from '../consume/group-consumer.js';
import { destinationFor, type LakeDestination } from './destination.js';
import { manifestKey, parseManifest, type OffsetRange, type RangeManifest } from './layout.js';
import { ParquetWriter, type StagedFile } from './parquet.js';
import { toBuffered, type BufferedMessage } from './rows.js';
import { claimStaging } from './staging.js';
import { sanityLimits, type Clock, type SanityLimits } from '../consume/sanity.js';

export interface LakeWorkerOptions {
  kafka: CloudConfig['kafka'];
  lake: CloudConfig['lake'];
  /** The store consumer's sanity limits: a batch it dead-letters has no rows in the lake either. */
  sink: CloudConfig['sink'];
  /** The clock of the future-time check; Date.now unless a test injects one. */
  now?: Clock;
  /** The cloud's dataDir: the lake's defaults (folder, staging) live under it. */
  dataDir: string;
  log: Logger;
  /** Default: the one `lake` configures. */
  destination?: LakeDestination;
  /**
   * Test hook, also read from FIELDLINE_LAKE_FAILPOINT: `crash-after-rename:N` SIGKILLs this process
   * once the N-th range of its life has all its files in place, before the offset commit.
   */
  failpoint?: string | undefined;
}

export interface LakeStats {
  state: 'connecting' | 'up' | 'down' | 'stopped';
  lastError: string;
  /** Kafka messages consumed, replays included. */
  messages: number;
  /** Messages with no batch the store would take (undecodable, refused by the sanity checks); the store consumer dead-letters them. */
  messagesSkipped: number;
  /** The same, by the FL_ERR_ code the DLQ would carry. */
  skippedByCode: Record<string, number>;
  /** Values no row can hold (the store rejects the same ones). */
  rowsRejected: number;
  /** A batch (gateway, seq) seen again within one range: written once. */
  duplicateBatches: number;
  rowsWritten: number;
  filesWritten: number;
  bytesWritten: number;
  rangesCommitted: number;
  /** Ranges whose end came from a manifest a previous writer left: their files were written again. */
  rangesReplayed: number;
  /** Messages dropped because they did not continue the partition's expected offset (stale prefetches, replays). */
  staleDropped: number;
  /** Offsets Kafka no longer had when the lake got to them (retention), so no file holds them. */
  offsetsLost: number;
  bufferedRows: number;
  consumeErrors: number;
  /** Writes that failed (a file, a manifest, an upload) and were retried with the offsets held. */
  writeErrors: number;
  lastCommitMs: number | null;
  lastRollMs: number | null;
}

interface PartitionState {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  revoked: boolean;
  /** The next offset the buffer takes; undefined until read from the group's committed offsets. */
  expected: number | undefined;
  messages: BufferedMessage[];
  rows: number;
  bytes: number;
  /** The manifest of the offset the buffer starts at: undefined until looked up, null when none. */
  manifest: RangeManifest | null | undefined;
  /** Since when only messages beyond `expected` have come (Date.now()), if they have. */
  gapSince: number | undefined;
}

/** Unexplained gaps are waited out this long (a stale prefetch ends sooner) before fetching again. */
const GAP_REFETCH_MS = 30_000;
/** How long stop() waits for the buffers to be written before it gives up and leaves them to a replay. */
const DRAIN_TIMEOUT_MS = 30_000;

export class LakeWorker {
  private readonly group: GroupConsumer;
  private destination: LakeDestination | null;
  private writer: ParquetWriter | null = null;
  private staging = '';
  private readonly parts = new Map<string, PartitionState>();
  /** Where a gap made us fetch again: the same gap after the fresh fetch is Kafka's own (skipped offsets). */
  private readonly refetchedAt = new Map<string, number>();
  private watermarks: Kafka.Producer | null = null;
  private drain: { done: () => void; promise: Promise<void> } | null = null;
  private rangesThisLife = 0;
  private readonly failpoint: string | undefined;
  private readonly counts = {
    messagesSkipped: 0, rowsRejected: 0, duplicateBatches: 0, rowsWritten: 0, filesWritten: 0, bytesWritten: 0,
    rangesCommitted: 0, rangesReplayed: 0, staleDropped: 0, offsetsLost: 0, writeErrors: 0,
  };
  private lastRollMs: number | null = null;
  private lastWriteError = '';
  private readonly skippedByCode: Record<string, number> = {};
  private readonly limits: SanityLimits;
  private readonly now: Clock;

  constructor(private readonly opts: LakeWorkerOptions) {
    this.destination = opts.destination ?? null;
    this.failpoint = opts.failpoint ?? process.env.FIELDLINE_LAKE_FAILPOINT;
    this.limits = sanityLimits(opts.sink);
    this.now = opts.now ?? Date.now;
    this.group = new GroupConsumer({
      name: 'lake',
      kafka: opts.kafka,
      topics: [opts.kafka.readingsTopic],
      group: opts.lake.group,
      clientId: 'fieldline-lake',
      maxBatchMessages: opts.kafka.maxBatchMessages,
      commit: 'manual',
      log: opts.log,
      handle: (messages) => this.handle(messages),
      idle: () => this.idle(),
      onAssign: (parts) => this.onAssign(parts),
      onRevoke: (parts) => this.onRevoke(parts),
    });
  }

  /** Where the lake is: a folder, or s3://bucket/prefix. Valid after start(). */
  get location(): string {
    return this.destination?.location ?? '';
  }

  get stats(): LakeStats {
    const g = this.group.stats;
    let bufferedRows = 0;
    for (const st of this.parts.values()) bufferedRows += st.rows;
    return {
      state: g.state,
      lastError: this.lastWriteError || g.lastError,
      messages: g.messages,
      consumeErrors: g.consumeErrors,
      lastCommitMs: g.lastCommitMs,
      lastRollMs: this.lastRollMs,
      bufferedRows,
      ...this.counts,
      skippedByCode: { ...this.skippedByCode },
    };
  }

  /** The stage="lake" counters of /metrics. */
  tallies(): WorkerTallies {
    return lakeTallies(this.stats);
  }

  async start(): Promise<void> {
    const { lake, dataDir, log } = this.opts;
    this.destination ??= await destinationFor(lake, dataDir, log);
    await this.destination.open();
    this.staging = await claimStaging(this.destination.stagingRoot, log);
    this.writer = await ParquetWriter.open({
      threads: lake.threads,
      memoryLimit: lake.memoryLimit,
      tempDirectory: join(this.staging, 'duckdb'),
      rowGroupSize: lake.rowGroupSize,
      compressionLevel: lake.compressionLevel,
    });
    log.info({ location: this.destination.location, group: lake.group, exclusiveCreate: this.destination.exclusiveCreate }, 'lake ready');
    this.group.start();
  }

  /** Writes out what is buffered (while Kafka is there to take the commits), then leaves the group. */
  async stop(): Promise<void> {
    if (this.group.stats.state === 'up') {
      let done!: () => void;
      const promise = new Promise<void>((r) => (done = r));
      this.drain = { done, promise };
      // The timer is cleared once the drain is done: left running it kept the process alive 30 s
      // after every stop.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([promise, new Promise<void>((r) => (timer = setTimeout(r, DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    await this.group.stop();
    this.writer?.close();
    this.writer = null;
    const w = this.watermarks;
    this.watermarks = null;
    if (w) await disconnectProducer(w);
    await this.destination?.close();
    if (this.staging) await rm(this.staging, { recursive: true, force: true });
  }

  // --- assignment ------------------------------------------------------------------------------

  private onAssign(parts: PartitionRef[]): void {
    // The eager protocol hands over the whole assignment each time: anything else is no longer ours.
    const keep = new Set(parts.map(partitionKey));
    for (const [key, st] of this.parts) if (!keep.has(key)) this.forget(st);
    for (const p of parts) {
      const old = this.parts.get(partitionKey(p));
      if (old) this.forget(old);
      this.parts.set(partitionKey(p), this.newState(p));
    }
  }

  private onRevoke(parts: PartitionRef[]): void {
    for (const p of parts) {
      const st = this.parts.get(partitionKey(p));
      if (st) this.forget(st);
    }
  }

  private newState(p: PartitionRef): PartitionState {
    return {
      key: partitionKey(p), topic: p.topic, partition: p.partition, revoked: false, expected: undefined,
      messages: [], rows: 0, bytes: 0, manifest: undefined, gapSince: undefined,
    };
  }

  /** Its buffer is dropped: uncommitted, it replays for whoever owns the partition next. */
  private forget(st: PartitionState): void {
    st.revoked = true;
    if (this.parts.get(st.key) === st) this.parts.delete(st.key);
  }

  /** Still the state of a partition we hold (a rebalance during an await replaces it). */
  private current(st: PartitionState): boolean {
    return !st.revoked && this.parts.get(st.key) === st;
  }

  private owns(st: PartitionState): boolean {
    return this.current(st) && this.group.assignments().some((a) => a.topic === st.topic && a.partition === st.partition);
  }

  // --- taking messages -------------------------------------------------------------------------

  private async handle(messages: Kafka.Message[]): Promise<void> {
    await this.learnExpected(messages);
    const now = this.now();
    for (const msg of messages) {
      let st = this.parts.get(partitionKey(msg));
      // A partition librdkafka says is ours whose state a late revoke event removed: start again
      // from the committed offset, which the contiguity check makes safe.
      if (!st && this.group.assignments().some((a) => a.topic === msg.topic && a.partition === msg.partition)) {
        st = this.newState(msg);
        this.parts.set(st.key, st);
        await this.learnExpected([msg]);
      }
      if (!st || st.expected === undefined || !this.current(st)) {
        this.counts.staleDropped++;
        continue;
      }
      if (msg.offset < st.expected || (msg.offset > st.expected && !(await this.acceptGap(st, msg.offset, now)))) {
        this.counts.staleDropped++;
        continue;
      }
      const b = toBuffered(msg, this.limits, now);
      if (b.skipped !== null) {
        this.counts.messagesSkipped++;
        this.skippedByCode[b.skipped] = (this.skippedByCode[b.skipped] ?? 0) + 1;
      }
      this.counts.rowsRejected += b.rejected;
      st.messages.push(b);
      st.rows += b.rows.length;
      st.bytes += b.bytes;
      st.expected = msg.offset + 1;
      st.gapSince = undefined;
      // Full, or at the end a manifest fixed: rolled at this message, not at the end of the poll,
      // so a file holds about maxRowsPerFile readings however many messages one poll brings.
      if (st.rows >= this.opts.lake.maxRowsPerFile || st.bytes >= this.opts.lake.maxBytesPerFile || (st.manifest && msg.offset >= st.manifest.end)) {
        await this.rollPartition(st, now, false);
      }
    }
    await this.rollDue(this.now());
  }

  private async idle(): Promise<void> {
    await this.rollDue(this.now());
  }

  /** Sets `expected` of the messages' partitions that lack it: the committed offset, else the log start. */
  private async learnExpected(messages: readonly Kafka.Message[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const pending = new Map<string, PartitionState>();
      for (const m of messages) {
        const st = this.parts.get(partitionKey(m));
        if (st && st.expected === undefined) pending.set(st.key, st);
      }
      if (pending.size === 0) return;
      const committed = await this.group.committed([...pending.values()].map((s) => ({ topic: s.topic, partition: s.partition })));
      if (committed === null) {
        if (attempt >= 4 || this.group.isStopping) throw new Error('the group coordinator did not say where the lake left off');
        await sleep(250 * 2 ** attempt);
        continue;
      }
      for (const st of pending.values()) {
        const next = committed.get(st.key) ?? -1001;
        // No commit yet: the group starts at the log's start (auto.offset.reset=earliest).
        const start = next >= 0 ? next : await this.lowWatermark(st);
        if (this.current(st) && st.expected === undefined) st.expected = start;
      }
    }
  }

  /**
   * A message past the expected offset. Kafka may no longer hold the missing ones (retention):
   * then the lake goes on from the log's start. Otherwise it is most likely a prefetch from before
   * a rebalance, dropped while the fetch from the committed offset catches up; a gap that persists
   * is checked by fetching again (rollDue), and the same gap after that fetch is Kafka's own.
   */
  private async acceptGap(st: PartitionState, offset: number, now: number): Promise<boolean> {
    const expected = st.expected!;
    const log = this.opts.log;
    if (this.refetchedAt.get(st.key) === expected) {
      this.refetchedAt.delete(st.key);
      this.counts.offsetsLost += offset - expected;
      log.warn({ partition: st.partition, from: expected, to: offset - 1 }, 'Kafka returns no messages at these offsets even on a fresh fetch; the lake goes on after them');
      return true;
    }
    if (st.gapSince === undefined) {
      const low = await this.lowWatermark(st);
      if (!this.current(st) || st.expected !== expected) return false;
      if (low > expected) {
        this.counts.offsetsLost += low - expected;
        log.warn({ partition: st.partition, from: expected, to: low - 1 }, 'offsets the lake had not written were deleted from Kafka (retention) before it read them');
        st.expected = low;
        if (offset === low) return true;
      }
    }
    st.gapSince ??= now;
    return false;
  }

  private async lowWatermark(st: PartitionState): Promise<number> {
    this.watermarks ??= await connectProducer(this.opts.kafka, 'fieldline-lake-offsets');
    const w = this.watermarks;
    return new Promise((resolve, reject) =>
      w.queryWatermarkOffsets(st.topic, st.partition, 5_000, (err, o) => (err ? reject(err) : resolve(o.lowOffset))),
    );
  }

  // --- rolling ---------------------------------------------------------------------------------

  private async rollDue(now: number): Promise<void> {
    const force = this.drain !== null;
    for (const st of [...this.parts.values()]) {
      if (st.gapSince !== undefined && now - st.gapSince > GAP_REFETCH_MS) {
        // Fetching again means a new consumer: throwing makes GroupConsumer reconnect, and the group
        // hands the partitions out again from the committed offsets.
        this.refetchedAt.set(st.key, st.expected!);
        for (const s of [...this.parts.values()]) this.forget(s);
        throw new CloudError('FL_ERR_LAKE_OFFSET_GAP', `partition ${st.partition}: nothing at offset ${st.expected} for ${GAP_REFETCH_MS / 1000} s while later offsets arrive`);
      }
      await this.rollPartition(st, now, force);
    }
    if (this.drain) {
      this.drain.done();
      this.drain = null;
    }
  }

  /** Rolls every range of the partition that is due, retrying failed writes with the offsets held. */
  private async rollPartition(st: PartitionState, now: number, force: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        while (this.current(st) && st.messages.length > 0 && (await this.rollOnce(st, now, force)));
        if (attempt > 0) this.lastWriteError = '';
        return;
      } catch (err) {
        this.counts.writeErrors++;
        const e = err instanceof FieldlineError ? err : new CloudError('FL_ERR_LAKE_WRITE', (err as Error).message, { cause: err });
        this.lastWriteError = e.message;
        if (attempt === 0) this.opts.log.warn({ partition: st.partition, err: e.message }, 'lake write failed; retrying with the offsets held');
        // Stopping or no longer ours: the buffer is left uncommitted for a replay.
        if (this.group.isStopping || !this.current(st)) return;
        await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** One step for the buffer's first range; true when the buffer changed and another step may follow. */
  private async rollOnce(st: PartitionState, now: number, force: boolean): Promise<boolean> {
    const first = st.messages[0]!;
    const last = st.messages[st.messages.length - 1]!;
    if (st.manifest === undefined) {
      const m = await this.readManifest(st.partition, first.offset);
      if (!this.current(st)) return false;
      st.manifest = m;
    }
    if (st.manifest) {
      // A writer before us started a range here: it ends where that one did, whatever our limits say.
      if (last.offset < st.manifest.end) return false;
      return this.writeRange(st, st.manifest.end, st.manifest);
    }
    const due = force || st.rows >= this.opts.lake.maxRowsPerFile || st.bytes >= this.opts.lake.maxBytesPerFile ||
      now - first.arrivedMs >= this.opts.lake.rollIntervalMs;
    if (!due) return false;
    return this.writeRange(st, last.offset, null);
  }

  private async writeRange(st: PartitionState, end: number, manifest: RangeManifest | null): Promise<boolean> {
    if (!this.owns(st)) return false;
    let n = 0;
    while (n < st.messages.length && st.messages[n]!.offset <= end) n++;
    const messages = st.messages.slice(0, n);
    const range: OffsetRange = { partition: st.partition, start: messages[0]!.offset, end };
    const written = await this.writer!.writeRange(range, messages, this.staging);
    let staged: StagedFile[] = written.files;
    try {
      const dest = this.destination!;
      if (!manifest) {
        const mine: RangeManifest = {
          version: 1, topic: st.topic, partition: st.partition, start: range.start, end, rows: written.rows,
          files: written.files.map((f) => ({ key: f.key, rows: f.rows })), writtenAt: new Date().toISOString(), writer: this.staging,
        };
        if (!(await dest.putIfAbsent(manifestKey(st.partition, range.start), Buffer.from(JSON.stringify(mine, null, 1))))) {
          // Another writer created this range's manifest first: adopt its end and start over.
          const theirs = await this.readManifest(st.partition, range.start);
          if (!theirs) throw new Error(`the manifest at ${manifestKey(st.partition, range.start)} was taken and is gone again`);
          if (this.current(st)) st.manifest = theirs;
          this.opts.log.info({ partition: st.partition, start: range.start, ours: end, theirs: theirs.end }, 'another writer fixed this range first; adopting its end');
          return this.current(st);
        }
      } else {
        this.counts.rangesReplayed++;
        this.opts.log.info({ partition: st.partition, start: range.start, end }, 'replaying a range from its manifest: the same end, the same files');
        // A replay may hold more than the first write (a batch that was ahead of the clock then is
        // not now), never less, unless the program changed between the two.
        const ours = new Set(written.files.map((f) => f.key));
        const missing = manifest.files.filter((f) => !ours.has(f.key)).map((f) => f.key);
        if (missing.length > 0 || written.rows < manifest.rows) {
          this.opts.log.warn({ partition: st.partition, start: range.start, manifestRows: manifest.rows, rows: written.rows, missing }, 'a replayed range holds less than its manifest says (another program version wrote it?)');
        }
        if (!contiguous(messages, range)) {
          // Some of the range's messages are gone from Kafka: its files as first written hold more
          // than a rewrite could, so only the missing ones are written.
          const present = await Promise.all(staged.map((f) => dest.exists(f.key)));
          staged = staged.filter((_, i) => !present[i]);
        }
      }
      if (!this.current(st)) return false;
      for (const f of staged) {
        await dest.put(f.key, f.path);
        this.counts.filesWritten++;
        this.counts.bytesWritten += f.bytes;
      }
      this.hitFailpoint();
      // Only now, with every file of the range in place, may the group move past it.
      if (!this.owns(st)) return false;
      this.group.commit([{ topic: st.topic, partition: st.partition, offset: end + 1 }]);
      st.messages.splice(0, n);
      st.rows -= messages.reduce((s, m) => s + m.rows.length, 0);
      st.bytes -= messages.reduce((s, m) => s + m.bytes, 0);
      st.manifest = undefined;
      this.counts.rowsWritten += written.rows;
      this.counts.duplicateBatches += written.duplicateBatches;
      this.counts.rangesCommitted++;
      this.lastRollMs = Date.now();
      return true;
    } finally {
      // Files put in place are gone from staging already; whatever is left was not used.
      await Promise.all(written.files.map((f) => rm(f.path, { force: true })));
    }
  }

  private async readManifest(partition: number, start: number): Promise<RangeManifest | null> {
    const key = manifestKey(partition, start);
    const bytes = await this.destination!.get(key);
    if (bytes === null) return null;
    try {
      return parseManifest(bytes, key);
    } catch (err) {
      throw new CloudError('FL_ERR_LAKE_MANIFEST_BAD', (err as Error).message);
    }
  }

  private hitFailpoint(): void {
    const m = /^crash-after-rename:(\d+)$/.exec(this.failpoint ?? '');
    if (!m) return;
    if (++this.rangesThisLife === Number(m[1])) {
      this.opts.log.warn('failpoint crash-after-rename: SIGKILL before the offset commit');
      process.kill(process.pid, 'SIGKILL');
    }
  }
}

export function lakeTallies(s: LakeStats): WorkerTallies {
  return {
    stage: 'lake',
    received: s.messages,
    sent: s.rowsWritten,
    dropped: { refused: s.messagesSkipped, invalid: s.rowsRejected, duplicate_batch: s.duplicateBatches, stale: s.staleDropped },
    errors: s.consumeErrors + s.writeErrors,
  };
}

/** Whether the messages are every offset of the range (Kafka may have deleted some before a replay). */
function contiguous(messages: readonly BufferedMessage[], range: OffsetRange): boolean {
  return messages.length === range.end - range.start + 1 && messages[0]?.offset === range.start;
}
