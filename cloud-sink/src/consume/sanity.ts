// What the sink decides about a message from iot.readings before the database sees it: whether it
// is a ReadingBatch of a schema this code reads, and whether every reading in it is plausible. The
// policy is all or nothing: one bad reading sends the whole batch to the DLQ, untouched, where
// `fieldline-cloud dlq replay` can fetch it once the cause is fixed (a limit raised, a gateway's
// clock set). Storing the good part would make that replay impossible, since the ledger would then
// skip the batch as already stored. Store.ingest keeps its own per-value rejection behind this as
// the last line of defence, for batches that reach it some other way.
import { checkSchemaVersion, countValues, decodeBatch, WireError, type Reading } from '../../../proto/src/wire.js';
import type { CloudConfig } from '../config/schema.js';
import { CloudError } from '../errors.js';
import { MAX_ABS_VALUE, type IngestBatch } from '../store/store.js';

/** "Now" in epoch ms; injected so tests need no wall clock. */
export type Clock = () => number;

export interface SanityLimits {
  /** Earliest plausible reading time, epoch ms. */
  earliestMs: number;
  maxFutureSkewMs: number;
  maxReadingsPerBatch: number;
  maxDeviceIdLength: number;
  maxMetricNameLength: number;
}

export function sanityLimits(cfg: CloudConfig['sink']): SanityLimits {
  return {
    earliestMs: Date.parse(cfg.earliestReadingTime),
    maxFutureSkewMs: cfg.maxFutureSkewMs,
    maxReadingsPerBatch: cfg.maxReadingsPerBatch,
    maxDeviceIdLength: cfg.maxDeviceIdLength,
    maxMetricNameLength: cfg.maxMetricNameLength,
  };
}

export interface AdmittedBatch {
  batch: IngestBatch;
  /** The field as sent (0 when unset). */
  schemaVersion: number;
  /** ReadingBatch.backlog: the gateway sent it from its backlog lane (false from gateways before revision 3). */
  backlog: boolean;
}

/**
 * Decodes a Kafka message value and runs every check, in the order a failure is reported: the
 * frame and protobuf, the schema version, the batch's identity, then its readings. Throws a
 * catalogued FieldlineError (WireError or CloudError) naming the first problem found.
 */
export function admitBatch(value: Buffer | null | undefined, limits: SanityLimits, nowMs: number): AdmittedBatch {
  if (!value || value.length === 0) throw new WireError('FL_ERR_WIRE_EMPTY');
  const b = decodeBatch(value);
  checkSchemaVersion(b.schemaVersion);
  if (!b.gatewayId || !b.seq) throw new WireError('FL_ERR_WIRE_BATCH_ID', `gateway_id ${JSON.stringify(b.gatewayId)}, seq ${b.seq}`);
  const batch: IngestBatch = { gatewayId: b.gatewayId, seq: b.seq, createdMs: b.createdMs, readings: b.readings };
  checkBatch(batch, limits, nowMs);
  return { batch, schemaVersion: b.schemaVersion, backlog: b.backlog === true };
}

/** The sanity checks alone, on a batch already decoded; throws a CloudError FL_ERR_SINK_…. */
export function checkBatch(b: IngestBatch, limits: SanityLimits, nowMs: number): void {
  const where = `batch ${quote(b.gatewayId)}/${b.seq}`;
  const gatewayProblem = textProblem(b.gatewayId, limits.maxDeviceIdLength);
  if (gatewayProblem) throw new CloudError('FL_ERR_SINK_GATEWAY_ID', `${where}: ${gatewayProblem}`);
  const values = countValues(b.readings);
  if (values === 0) throw new CloudError('FL_ERR_SINK_EMPTY_BATCH', `${where}: ${b.readings.length} readings, no values`);
  if (values > limits.maxReadingsPerBatch) {
    throw new CloudError('FL_ERR_SINK_TOO_MANY_READINGS', `${where}: ${values} > ${limits.maxReadingsPerBatch}`);
  }
  const latestMs = nowMs + limits.maxFutureSkewMs;
  b.readings.forEach((r, i) => {
    const problem = readingProblem(r, limits, latestMs);
    if (problem) throw new CloudError(problem.code, `${where}, reading ${i}${r.deviceId ? ` (device ${quote(r.deviceId)})` : ''}: ${problem.detail}`);
  });
}

type SinkCode = Extract<CloudError['code'], `FL_ERR_SINK_${string}`>;

function readingProblem(r: Reading, limits: SanityLimits, latestMs: number): { code: SinkCode; detail: string } | null {
  const deviceProblem = textProblem(r.deviceId ?? '', limits.maxDeviceIdLength);
  if (deviceProblem) return { code: 'FL_ERR_SINK_DEVICE_ID', detail: `device id ${deviceProblem}` };
  const ts = Number(r.tsMs ?? 0);
  if (r.timeFlag) {
    // The gateway says this time is its untrusted clock's (gateway/src/clock): it is stored flagged,
    // so the plausibility window, which is there to catch a lost clock nobody noticed, does not apply.
    const flagProblem = textProblem(r.timeFlag, limits.maxMetricNameLength);
    if (flagProblem) return { code: 'FL_ERR_SINK_TIME_FLAG', detail: `time_flag ${flagProblem}` };
    if (!Number.isFinite(ts)) return { code: 'FL_ERR_SINK_TIME_TOO_EARLY', detail: `ts ${ts} is not a number` };
  } else if (!(ts >= limits.earliestMs)) {
    return { code: 'FL_ERR_SINK_TIME_TOO_EARLY', detail: `ts ${ts} (${iso(ts)}) is before ${iso(limits.earliestMs)}` };
  }
  if (ts > latestMs) {
    return { code: 'FL_ERR_SINK_TIME_AHEAD', detail: `ts ${ts} (${iso(ts)}) is past ${iso(latestMs)}, the cloud's clock + ${limits.maxFutureSkewMs} ms` };
  }
  for (const [metric, value] of Object.entries(r.metrics ?? {})) {
    const nameProblem = textProblem(metric, limits.maxMetricNameLength);
    if (nameProblem) return { code: 'FL_ERR_SINK_METRIC_NAME', detail: `metric name ${nameProblem}` };
    if (typeof value !== 'number' || !(Math.abs(value) <= MAX_ABS_VALUE)) {
      return { code: 'FL_ERR_SINK_VALUE', detail: `${quote(metric)} = ${String(value)}` };
    }
  }
  return null;
}

/** C0 controls, DEL and C1 controls: nothing an id or a name has reason to hold, NUL included. */
const CONTROL = /\p{Cc}/u;

/** Why `text` is not an acceptable id or name, or null. Length counts characters (code points). */
function textProblem(text: string, maxLength: number): string | null {
  if (text === '') return 'is empty';
  // Code points never outnumber UTF-16 units, so only a long string needs counting.
  if (text.length > maxLength) {
    const length = [...text].length;
    if (length > maxLength) return `${quote(text)} is ${length} characters (limit ${maxLength})`;
  }
  if (CONTROL.test(text)) return `${quote(text)} holds control characters`;
  return null;
}

/** JSON-quoted (so control characters show as escapes) and cut, for a log line or a header. */
function quote(text: string): string {
  const q = JSON.stringify(text);
  return q.length > 80 ? `${q.slice(0, 77)}…"` : q;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? 'not a date' : d.toISOString();
}
