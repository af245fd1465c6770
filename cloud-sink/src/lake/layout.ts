// Where things live in the lake (DESIGN.md "Lake"). Keys are relative to the lake's root (a folder
// or a bucket prefix) and are the same on every destination:
//
//   readings/date=YYYY-MM-DD/hour=HH/part-p<partition>-o<first offset>-<last offset>.parquet
//   _manifests/readings/p<partition>/o<first offset>.json
//
// Numbers are zero-padded so names sort the way the offsets do. A file is named after the Kafka
// range it holds, never after when it was written, so replaying a range produces the same names.
// Readers glob `readings/**/*.parquet`; nothing a writer leaves half-done is ever under it.

export const READINGS_DIR = 'readings';
export const MANIFESTS_DIR = '_manifests/readings';

/** int64 offsets have at most 19 digits; one more keeps every name the same length. */
const OFFSET_DIGITS = 20;
/** Wider partition numbers still sort right within a partition, which is all a reader needs. */
const PARTITION_DIGITS = 3;
const HOUR_MS = 3_600_000;

/** A partition's offsets `start` to `end`, both included. */
export interface OffsetRange {
  partition: number;
  start: number;
  end: number;
}

/** What a range wrote, kept in its manifest so whoever replays the range ends it at the same offset. */
export interface RangeManifest {
  version: 1;
  topic: string;
  partition: number;
  start: number;
  end: number;
  /** Readings in the range's files together. */
  rows: number;
  files: { key: string; rows: number }[];
  writtenAt: string;
  writer: string;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Hours since the epoch (UTC) of an epoch-ms time; negative before 1970. */
export function hourOf(tsMs: number): number {
  return Math.floor(tsMs / HOUR_MS);
}

/** `date=YYYY-MM-DD/hour=HH` of an hour since the epoch, in UTC. */
export function hourFolder(hour: number): string {
  const iso = new Date(hour * HOUR_MS).toISOString();
  // Years beyond 9999 or before 1 come out as ±YYYYYY; the date part is everything before the T.
  const t = iso.indexOf('T');
  return `date=${iso.slice(0, t)}/hour=${iso.slice(t + 1, t + 3)}`;
}

export function rangeName(r: OffsetRange): string {
  return `part-p${pad(r.partition, PARTITION_DIGITS)}-o${pad(r.start, OFFSET_DIGITS)}-${pad(r.end, OFFSET_DIGITS)}`;
}

export function fileKey(r: OffsetRange, hour: number): string {
  return `${READINGS_DIR}/${hourFolder(hour)}/${rangeName(r)}.parquet`;
}

/** Keyed by the range's first offset only: whoever starts a range there finds how it ended. */
export function manifestKey(partition: number, start: number): string {
  return `${MANIFESTS_DIR}/p${pad(partition, PARTITION_DIGITS)}/o${pad(start, OFFSET_DIGITS)}.json`;
}

const FILE_KEY = /^readings\/date=([-+]?\d{4,6}-\d{2}-\d{2})\/hour=(\d{2})\/part-p(\d+)-o(\d+)-(\d+)\.parquet$/;

/** The range and hour a data file's key names, or null for anything else. */
export function parseFileKey(key: string): (OffsetRange & { date: string; hour: string }) | null {
  const m = FILE_KEY.exec(key);
  if (!m) return null;
  return { date: m[1]!, hour: m[2]!, partition: Number(m[3]), start: Number(m[4]), end: Number(m[5]) };
}

/** Throws on anything that is not a manifest this code writes; `key` names it in the message. */
export function parseManifest(bytes: Buffer, key: string): RangeManifest {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`${key} is not JSON: ${(err as Error).message}`);
  }
  const o = m as Partial<RangeManifest>;
  const int = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    typeof m !== 'object' || m === null || o.version !== 1 || !int(o.partition) || !int(o.start) || !int(o.end) ||
    (o.end as number) < (o.start as number) || !int(o.rows) || !Array.isArray(o.files) ||
    !o.files.every((f) => typeof f?.key === 'string' && int(f.rows))
  ) {
    throw new Error(`${key} is not a version 1 range manifest`);
  }
  return o as RangeManifest;
}
