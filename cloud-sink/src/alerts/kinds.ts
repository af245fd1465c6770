// What each reading-driven rule kind remembers about one series (a rule × device × metric) and how a
// reading moves it. Pure functions of (state, params, reading) in the readings' own time, so the
// evaluator can replay a partition and get the same answers, and the tests need no Kafka.
//
// A step answers "the condition now holds" (true), "it has cleared" (false) or "no verdict" (null:
// warming up, too few readings, between the fire and clear levels). The evaluator turns a verdict
// that differs from the series' alert state into a firing or a resolution.
import type { ParamsOf } from './rule.js';

export interface Point {
  ts: number;
  value: number;
}

export interface Verdict {
  /** true: fire (or stay firing); false: resolve (or stay resolved); null: no change. */
  holds: boolean | null;
  /** When the condition started (for a firing: the series' own time). */
  since?: number;
  /** Words for the alert message, e.g. "23.4 above 20". */
  detail?: string;
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ''));

// ---- threshold ------------------------------------------------------------------------------

export interface ThresholdState {
  /** Since when (series time) the value has been past the fire level, while waiting out for_s. */
  pendingSince: number | null;
}

export function thresholdStep(s: ThresholdState, p: ParamsOf<'threshold'>, firing: boolean, r: Point): Verdict {
  const clear = p.clear ?? p.value;
  const over = p.op === 'above' ? r.value > p.value : r.value < p.value;
  const cleared = p.op === 'above' ? r.value <= clear : r.value >= clear;
  const word = p.op === 'above' ? 'above' : 'below';
  if (over) {
    if (s.pendingSince === null) s.pendingSince = r.ts;
    if (firing) return { holds: true };
    if (r.ts - s.pendingSince >= p.for_s * 1000) {
      const lasted = p.for_s > 0 ? ` for ${fmt(p.for_s)} s` : '';
      return { holds: true, since: s.pendingSince, detail: `${fmt(r.value)} ${word} ${fmt(p.value)}${lasted}` };
    }
    return { holds: null };
  }
  // Between the levels a firing alert stays and a pending one keeps waiting only while still over.
  s.pendingSince = null;
  if (cleared) return { holds: false, detail: `${fmt(r.value)} back ${p.op === 'above' ? 'at or under' : 'at or over'} ${fmt(clear)}` };
  return { holds: firing ? null : false };
}

// ---- rate of change -------------------------------------------------------------------------

export interface RateState {
  /** The readings within the window, oldest first. */
  window: Point[];
}

export function rateStep(s: RateState, p: ParamsOf<'rate'>, firing: boolean, r: Point): Verdict {
  s.window.push(r);
  const horizon = r.ts - p.window_s * 1000;
  while (s.window.length > 2 && s.window[1]!.ts <= horizon) s.window.shift();
  const first = s.window[0]!;
  const span = (r.ts - first.ts) / 1000;
  if (s.window.length < 2 || span <= 0) return { holds: null };
  const perS = (r.value - first.value) / span;
  const clear = p.clear ?? p.value;
  const over = p.op === 'above' ? perS > p.value : perS < p.value;
  const cleared = p.op === 'above' ? perS <= clear : perS >= clear;
  const detail = `changing ${fmt(perS)}/s over ${fmt(span)} s (limit ${p.op} ${fmt(p.value)}/s)`;
  if (over) return { holds: true, since: firing ? undefined : r.ts, detail };
  if (cleared) return { holds: false, detail };
  return { holds: null };
}

// ---- anomaly (EWMA z-score) -----------------------------------------------------------------

export interface AnomalyState {
  n: number;
  mean: number;
  variance: number;
}

export function anomalyStep(s: AnomalyState, p: ParamsOf<'anomaly'>, firing: boolean, r: Point): Verdict {
  let verdict: Verdict = { holds: null };
  if (s.n >= p.warmup && s.variance > 0) {
    const sd = Math.sqrt(s.variance);
    const z = Math.abs(r.value - s.mean) / sd;
    const clearZ = p.clear_z ?? p.z * 0.75;
    const detail = `${fmt(r.value)} is ${fmt(z)} deviations from the usual ${fmt(s.mean)} ± ${fmt(sd)}`;
    if (z > p.z) verdict = { holds: true, since: firing ? undefined : r.ts, detail };
    else if (z < clearZ) verdict = { holds: false, detail };
  }
  // The baseline follows every reading, anomalous ones too: a lasting change of level becomes the
  // new normal after a while and the alert resolves, rather than firing for ever.
  if (s.n === 0) {
    s.mean = r.value;
    s.variance = 0;
  } else {
    const diff = r.value - s.mean;
    const incr = p.alpha * diff;
    s.mean += incr;
    s.variance = (1 - p.alpha) * (s.variance + diff * incr);
  }
  s.n++;
  return verdict;
}

// ---- data quality (share quarantined) -------------------------------------------------------

/** Counts per slice of the window (a tenth of it), keyed by slice start. */
export interface QualityState {
  slices: Array<{ start: number; accepted: number; quarantined: number }>;
}

export function qualityStep(s: QualityState, p: ParamsOf<'quality'>, firing: boolean, ts: number, kind: 'accepted' | 'quarantined'): Verdict {
  const windowMs = p.window_s * 1000;
  const sliceMs = Math.max(1, Math.floor(windowMs / 10));
  const start = Math.floor(ts / sliceMs) * sliceMs;
  let slice = s.slices.find((x) => x.start === start);
  if (!slice) {
    slice = { start, accepted: 0, quarantined: 0 };
    s.slices.push(slice);
    s.slices.sort((a, b) => a.start - b.start);
  }
  slice[kind]++;
  const newest = s.slices[s.slices.length - 1]!.start;
  s.slices = s.slices.filter((x) => x.start > newest - windowMs);
  let accepted = 0;
  let quarantined = 0;
  for (const x of s.slices) {
    accepted += x.accepted;
    quarantined += x.quarantined;
  }
  const total = accepted + quarantined;
  if (total < p.min_readings) return { holds: null };
  const pct = (100 * quarantined) / total;
  const clearPct = p.clear_pct ?? p.max_quarantined_pct * 0.8;
  const detail = `${fmt(pct)} % of ${total} readings quarantined in ${fmt(p.window_s)} s (limit ${fmt(p.max_quarantined_pct)} %)`;
  if (pct > p.max_quarantined_pct) return { holds: true, since: firing ? undefined : ts, detail };
  if (pct <= clearPct) return { holds: false, detail };
  return { holds: null };
}
