// What the lake tests need around a real Kafka broker: batches whose every reading is known, a
// producer that remembers where each message landed, lake writers in this process or as child
// processes (`fieldline-cloud lake`), and independent readers of the result: DuckDB on its own (not
// the LakeReader under test) and pyarrow in a python3 child.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeBatch, SCHEMA_VERSION, type ReadingBatch } from '../../proto/src/wire.js';
import { repoRoot, run, spawnLogged, waitUntil, type LoggedProcess } from '../../devstack/net.js';
import { cloudConfigSchema, type CloudConfig } from '../../cloud-sink/src/config/schema.js';
import { LakeWorker } from '../../cloud-sink/src/lake/worker.js';
import { parseFileKey } from '../../cloud-sink/src/lake/layout.js';
import { CommittedOffsets } from '../fault/sink-support.js';

export const HOUR = 3_600_000;

// --- rows ----------------------------------------------------------------------------------------

/** One lake row as a comparable string: ts in epoch µs, then the other columns. */
export function rowKey(tsUs: number | bigint, gatewayId: string, deviceId: string, metric: string, value: number, seq: number | bigint | string): string {
  return `${String(tsUs)}|${gatewayId}|${deviceId}|${metric}|${value}|${String(seq)}`;
}

/** The rows a batch of only valid readings becomes: one per metric value. */
export function rowsOf(batch: ReadingBatch): string[] {
  const out: string[] = [];
  for (const r of batch.readings ?? []) {
    for (const [metric, value] of Object.entries(r.metrics ?? {})) {
      out.push(rowKey(BigInt(r.tsMs as number) * 1000n, batch.gatewayId!, r.deviceId!, metric, value, batch.seq as number));
    }
  }
  return out;
}

export function sorted(rows: Iterable<string>): string[] {
  return [...rows].sort();
}

/**
 * A batch of `devices` device messages with `metrics` values each, stamped from `startMs` one
 * second apart per message; values are unique per (gateway, seq, message, metric).
 */
export function makeBatch(gatewayId: string, seq: number, startMs: number, devices = 20, metrics = 3): ReadingBatch {
  const readings = [];
  for (let d = 0; d < devices; d++) {
    const m: Record<string, number> = {};
    for (let k = 0; k < metrics; k++) m[`m${k}`] = seq * 1000 + d + k / 10;
    readings.push({ deviceId: `${gatewayId}-d${d}`, tsMs: startMs + d * 1000, metrics: m });
  }
  return { gatewayId, seq, createdMs: startMs, readings, schemaVersion: SCHEMA_VERSION };
}

// --- producing -----------------------------------------------------------------------------------

export interface Landed {
  partition: number;
  offset: number;
}

/** Produces batches like a gateway (key = gateway id, the wire headers) and records where each landed. */
export class TestProducer {
  /** opaque id → where it landed. */
  readonly landed = new Map<string, Landed>();
  private sent = 0;
  private delivered = 0;
  private readonly failures: string[] = [];

  private constructor(private readonly producer: Kafka.Producer, readonly topic: string) {
    producer.on('delivery-report', (err, report) => {
      this.delivered++;
      if (err) this.failures.push(`${String(report.opaque)}: ${err.message}`);
      else this.landed.set(String(report.opaque), { partition: report.partition, offset: report.offset });
    });
  }

  static async connect(bootstrap: string, topic: string): Promise<TestProducer> {
    const producer = new Kafka.Producer({
      'metadata.broker.list': bootstrap, 'client.id': 'fieldline-lake-test', 'enable.idempotence': true, 'linger.ms': 5, dr_cb: true,
    });
    await new Promise<void>((resolve, reject) => producer.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    producer.setPollInterval(25);
    return new TestProducer(producer, topic);
  }

  /** Sends a batch under id (default gateway/seq); returns the id. */
  send(batch: ReadingBatch, id = `${batch.gatewayId}/${batch.seq}`, partition: number | null = null): string {
    const msg = encodeBatch(batch);
    this.raw(msg.value, msg.key, id, Object.entries(msg.headers).map(([k, v]) => ({ [k]: v })), partition);
    return id;
  }

  /** Any bytes at all, e.g. a message no batch decoder can read. */
  raw(value: Buffer, key: string, id: string, headers: Kafka.MessageHeader[] = [], partition: number | null = null): void {
    this.producer.produce(this.topic, partition, value, key, Date.now(), id, headers);
    this.sent++;
  }

  async settle(timeoutMs = 60_000): Promise<void> {
    await new Promise<void>((resolve, reject) => this.producer.flush(timeoutMs, (err) => (err ? reject(err) : resolve())));
    await waitUntil(async () => this.delivered >= this.sent, { what: 'delivery reports for every message', timeoutMs });
    assert.deepEqual(this.failures, [], 'every message produced reached Kafka');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }
}

// --- lake writers --------------------------------------------------------------------------------

export interface LakeSettings {
  brokers: string;
  topic: string;
  group: string;
  /** The lake settings beyond the defaults (dir, rollIntervalMs, maxRowsPerFile, destination…). */
  lake: Record<string, unknown>;
  dataDir: string;
}

export function lakeConfig(s: LakeSettings): CloudConfig {
  return cloudConfigSchema.parse(configObject(s));
}

function configObject(s: LakeSettings): Record<string, unknown> {
  return {
    dataDir: s.dataDir,
    logLevel: 'info',
    // The schema's minimum session timeout: a killed writer's partitions move on this soon.
    kafka: { brokers: s.brokers, readingsTopic: s.topic, sessionTimeoutMs: 6_000, maxBatchMessages: 500 },
    lake: { group: s.group, ...s.lake },
  };
}

export function inProcessLake(s: LakeSettings, failpoint?: string): LakeWorker {
  const cfg = lakeConfig(s);
  const log = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
  return new LakeWorker({ kafka: cfg.kafka, lake: cfg.lake, sink: cfg.sink, dataDir: cfg.dataDir, log, failpoint });
}

/** `fieldline-cloud lake --config <file>` as a child process, restartable, one log across restarts. */
export class LakeProcess {
  readonly configFile: string;
  proc: LoggedProcess | undefined;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly logDir: string,
    settings: LakeSettings,
    private readonly env: Record<string, string> = {},
  ) {
    this.configFile = join(dir, `${name}.yaml`);
    // JSON is YAML; the file is what an operator would write.
    writeFileSync(this.configFile, JSON.stringify(configObject(settings), null, 2));
  }

  get logFile(): string {
    return join(this.logDir, `${this.name}.log`);
  }

  /** Starts it and waits until it has subscribed; `env` is added for this life only (a failpoint, say). */
  async start(env: Record<string, string> = {}): Promise<LoggedProcess> {
    const before = this.starts === 0 ? 0 : this.countInLog('lake consumer subscribed');
    const childEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FIELDLINE_CLOUD_') && k !== 'FIELDLINE_LAKE_FAILPOINT') childEnv[k] = v;
    Object.assign(childEnv, this.env, env);
    const proc = spawnLogged(process.execPath, [join(repoRoot(), 'dist', 'cloud-sink', 'src', 'cli', 'main.js'), 'lake', '--config', this.configFile], {
      logDir: this.logDir, logName: `${this.name}.log`, truncate: this.starts === 0, cwd: this.dir, env: childEnv,
    });
    this.proc = proc;
    this.starts++;
    await waitUntil(async () => this.countInLog('lake consumer subscribed') > before, {
      what: `lake ${this.name} (start ${this.starts})`, timeoutMs: 60_000, intervalMs: 50, process: proc,
    });
    return proc;
  }

  countInLog(text: string): number {
    try {
      return readFileSync(this.logFile, 'utf8').split(text).length - 1;
    } catch {
      return 0;
    }
  }

  async kill(): Promise<void> {
    await this.proc?.stop('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM', 60_000);
  }
}

// --- reading the lake independently ---------------------------------------------------------------

/** Every data file under <lake>/readings, as keys relative to the lake root. */
export function lakeFiles(lakeDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(lakeDir, p).split(sep).join('/'));
    }
  };
  walk(join(lakeDir, 'readings'));
  return out.sort();
}

export interface FileRow {
  file: string;
  key: string;
}

/** Every row of every file, read by a DuckDB of the test's own, in file order. */
export async function duckRows(lakeDir: string, files = lakeFiles(lakeDir)): Promise<FileRow[]> {
  const inst = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', threads: '1' });
  const conn = await inst.connect();
  try {
    const out: FileRow[] = [];
    for (const f of files) {
      const r = await conn.runAndReadAll(
        `SELECT epoch_us(ts) AS us, gateway_id, device_id, metric, value, batch_seq FROM read_parquet('${join(lakeDir, f).replace(/'/g, "''")}')`,
      );
      for (const row of r.getRowsJS()) {
        const [us, gw, dev, metric, value, seq] = row as [bigint, string, string, string, number, bigint];
        out.push({ file: f, key: rowKey(us, gw, dev, metric, value, seq) });
      }
    }
    return out;
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const PYARROW_DUMP = `
import json, sys
import pyarrow.parquet as pq
root = sys.argv[1]
for f in sys.argv[2:]:
    t = pq.read_table(root + '/' + f)
    assert str(t.schema.field('ts').type) == 'timestamp[us, tz=UTC]', t.schema
    cols = t.to_pydict()
    us = t.column('ts').cast('int64').to_pylist()
    for i in range(t.num_rows):
        print(json.dumps([f, us[i], cols['gateway_id'][i], cols['device_id'][i], cols['metric'][i], cols['value'][i], cols['batch_seq'][i]]))
`;

/** Every row of every file, read by pyarrow (python3 -c), which checks ts is timestamp[us, tz=UTC]. */
export async function pyarrowRows(lakeDir: string, files = lakeFiles(lakeDir)): Promise<FileRow[]> {
  const r = await run('python3', ['-c', PYARROW_DUMP, lakeDir, ...files], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `pyarrow read the lake: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [file, us, gw, dev, metric, value, seq] = JSON.parse(line) as [string, number, string, string, string, number, number];
      return { file, key: rowKey(us, gw, dev, metric, value, seq) };
    });
}

/**
 * The files' ranges per partition must not overlap, and together cover every offset from the first
 * to `ends[p] - 1` (a range is [start, end] in its name; several files, one per hour, share it).
 */
export function checkRanges(files: readonly string[], ends: ReadonlyMap<number, number>): string[] {
  const byPartition = new Map<number, Map<number, number>>();
  const problems: string[] = [];
  for (const f of files) {
    const r = parseFileKey(f);
    if (!r) {
      problems.push(`${f} is not named readings/date=…/hour=…/part-p…-o…-….parquet`);
      continue;
    }
    const ranges = byPartition.get(r.partition) ?? new Map<number, number>();
    const had = ranges.get(r.start);
    if (had !== undefined && had !== r.end) problems.push(`partition ${r.partition}: ranges ${r.start}-${had} and ${r.start}-${r.end} overlap`);
    ranges.set(r.start, r.end);
    byPartition.set(r.partition, ranges);
  }
  for (const [p, end] of ends) {
    const ranges = [...(byPartition.get(p) ?? new Map<number, number>())].sort((a, b) => a[0] - b[0]);
    let next = 0;
    for (const [start, last] of ranges) {
      if (start < next) problems.push(`partition ${p}: range ${start}-${last} overlaps the one before it (which ends at ${next - 1})`);
      // A range with no valid reading has no file: its offsets may be missing from the names.
      next = Math.max(next, last + 1);
    }
    if (next !== end) problems.push(`partition ${p}: files cover offsets up to ${next - 1}, the partition ends at ${end - 1}`);
  }
  return problems;
}

/** Counts of each row key; a multiset to compare. */
export function multiset(keys: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** What differs between two multisets of rows, a few of each kind, for assertion messages. */
export function diffRows(actual: Iterable<string>, expected: Iterable<string>): { missing: string[]; extra: string[] } {
  const a = multiset(actual);
  const e = multiset(expected);
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [k, n] of e) for (let i = a.get(k) ?? 0; i < n; i++) missing.push(k);
  for (const [k, n] of a) for (let i = e.get(k) ?? 0; i < n; i++) extra.push(k);
  return { missing: missing.slice(0, 5).concat(missing.length > 5 ? [`… ${missing.length} missing`] : []), extra: extra.slice(0, 5).concat(extra.length > 5 ? [`… ${extra.length} extra`] : []) };
}

/**
 * Waits until `group` has committed every partition's end (the end when the wait starts), and
 * returns the ends; `detail` adds what the caller knows to the timeout's message.
 */
export async function waitCommitted(
  bootstrap: string,
  group: string,
  topic: string,
  partitions: number,
  opts: { timeoutMs?: number; detail?: () => string } = {},
): Promise<Map<number, number>> {
  const offsets = await CommittedOffsets.connect(bootstrap, group, topic, partitions);
  try {
    const ends = await offsets.ends();
    await waitUntil(
      async () => {
        // The group's coordinator may not be elected yet ("Not coordinator"): ask again.
        const c = await offsets.read().catch(() => null);
        return c !== null && [...ends].every(([p, end]) => (c.get(p) ?? 0) === end);
      },
      { what: `group ${group} to commit every partition's end ${JSON.stringify([...ends])}${opts.detail?.() ?? ''}`, timeoutMs: opts.timeoutMs ?? 180_000, intervalMs: 200 },
    );
    return ends;
  } finally {
    await offsets.close();
  }
}
