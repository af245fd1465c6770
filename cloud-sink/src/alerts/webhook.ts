// The webhook deliverer: POSTs the rows recordEvent queued in webhook_deliveries to their rules'
// receivers, retrying with backoff until a 2xx or until the delivery is given up.
//
// The retry schedule lives in the table (next_attempt_at), not in this process, so it survives
// restarts and is shared by every sink process; that is also why no retry library is used here.
//
// - Claim: one due row at a time, `FOR UPDATE SKIP LOCKED`, and in the same statement a lease
//   (next_attempt_at moved past the request's time limit), so several processes never send the
//   same row at once and a row whose sender died comes due again by itself.
// - Outcome: 2xx delivered; anything else (3xx included: redirects are not followed), a network
//   error or the time limit is a failure, retried after an exponential backoff with equal jitter;
//   410 Gone, or a failure once alerts.webhooks.giveUpAfterMs has passed since the event, gives up.
// - At least once: a receiver can see an event twice (its 2xx lost, or our update of the row lost);
//   x-fieldline-event-id is its deduplication key.
// - Signature (when the rule's webhook has a secret): x-fieldline-timestamp (unix seconds) and
//   x-fieldline-signature `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { systemClock, type Clock } from '../fleet/aggregates.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { Nap } from '../consume/nap.js';

export type WebhookSettings = CloudConfig['alerts']['webhooks'];

/** How far past the request's time limit a claim's lease reaches, for a slow event loop or clock step. */
const LEASE_MARGIN_MS = 5_000;
/** Most bytes of an answer read (the rest is discarded); the first ERROR_TEXT characters go in last_error. */
const MAX_ANSWER_BYTES = 64 * 1024;
const ERROR_TEXT = 200;
/** Finished rows older than the retention are deleted at most this often. */
const PRUNE_EVERY_MS = 10 * 60_000;

export const SIGNATURE_VERSION = 'v1';

/** `v1=<hex HMAC-SHA256(secret, "<timestampS>.<body>")>`: the x-fieldline-signature header. */
export function signPayload(secret: string, timestampS: number, body: string): string {
  return `${SIGNATURE_VERSION}=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does with the two headers: true when `signature` was made with `secret` over this
 * timestamp and body, and the timestamp is within `toleranceS` of `nowS` (a replay is refused).
 */
export function verifySignature(secret: string, body: string, timestamp: string | undefined, signature: string | undefined, nowS: number, toleranceS = 300): boolean {
  if (timestamp === undefined || signature === undefined || !/^\d+$/.test(timestamp)) return false;
  const ts = Number(timestamp);
  if (Math.abs(nowS - ts) > toleranceS) return false;
  const expected = Buffer.from(signPayload(secret, ts, body));
  // A header may carry several signatures (during a secret rotation); any one matching will do.
  return signature.split(',').some((s) => {
    const got = Buffer.from(s.trim());
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

/**
 * The wait after the `failures`-th failure: minBackoffMs doubling per failure up to maxBackoffMs,
 * with equal jitter (half fixed, half random), so receivers coming back are not hit all at once
 * yet never retried sooner than half the step. `random` is in [0, 1).
 */
export function backoffMs(failures: number, settings: Pick<WebhookSettings, 'minBackoffMs' | 'maxBackoffMs'>, random: () => number = Math.random): number {
  const cap = Math.max(settings.minBackoffMs, settings.maxBackoffMs);
  const step = Math.min(cap, settings.minBackoffMs * 2 ** Math.min(Math.max(failures, 1) - 1, 40));
  return Math.round(step / 2 + random() * (step / 2));
}

export interface WebhookDelivererOptions {
  db: Db;
  settings: WebhookSettings;
  log: Logger;
  /** Decides what is due and stamps the rows; tests pass their own. */
  clock?: Clock;
  /** The HTTP client; Node's global fetch unless a test passes its own. */
  fetch?: typeof fetch;
  /** The jitter's source, in [0, 1). */
  random?: () => number;
}

export interface WebhookStats {
  state: 'idle' | 'running' | 'failing' | 'stopped';
  /** Requests started (every attempt). */
  attempts: number;
  delivered: number;
  /** Attempts that failed and were rescheduled or given up. */
  failed: number;
  gaveUp: number;
  /** Database errors (claims, outcomes not recorded); the rows come due again after their lease. */
  dbErrors: number;
  inFlight: number;
  lastError: string;
  /** Finished rows deleted after the retention. */
  pruned: number;
}

interface Claimed {
  event_id: string;
  url: string;
  secret: string | null;
  body: string;
  attempts: number;
  created_at: Date;
}

interface Outcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

const CLAIM = `
  WITH due AS (
    SELECT event_id, url FROM webhook_deliveries
     WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1
       AND NOT (url = ANY($2::text[]))
     ORDER BY next_attempt_at, created_at, event_id
     LIMIT 1
     FOR UPDATE SKIP LOCKED)
  UPDATE webhook_deliveries w SET next_attempt_at = $3
    FROM due WHERE w.event_id = due.event_id AND w.url = due.url
  RETURNING w.event_id, w.url, w.secret, w.body, w.attempts, w.created_at`;

export class WebhookDeliverer {
  readonly stats: WebhookStats = {
    state: 'idle', attempts: 0, delivered: 0, failed: 0, gaveUp: 0, dbErrors: 0, inFlight: 0, lastError: '', pruned: 0,
  };
  private readonly clock: Clock;
  private readonly fetch: typeof fetch;
  private readonly random: () => number;
  /** URL → deliveries in flight to it. */
  private readonly busy = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly nap = new Nap();
  private poked = false;
  private lastPruneMs = -Infinity;

  constructor(private readonly opts: WebhookDelivererOptions) {
    this.clock = opts.clock ?? systemClock;
    this.fetch = opts.fetch ?? globalThis.fetch;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    this.stopped = false;
    this.loopDone = this.loop();
  }

  /** Stops claiming and waits for the deliveries in flight (each ends within timeoutMs). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.nap.interrupt();
    await this.loopDone;
    await Promise.all(this.inFlight);
    this.stats.state = 'stopped';
  }

  /** Look for due deliveries now: the evaluator calls it after committing events. */
  poke(): void {
    this.poked = true;
    this.nap.interrupt();
  }

  /**
   * Claims what is due now (as many as the concurrency limits allow) and waits until those
   * attempts are recorded. For tests and tools that drive the deliverer without start().
   * Resolves with the number of attempts made.
   */
  async runOnce(): Promise<number> {
    const started = await this.fill();
    await Promise.all(this.inFlight);
    return started;
  }

  /** Starts deliveries until the limits are reached or nothing more is due; resolves with how many it started. */
  private async fill(): Promise<number> {
    const { concurrency, perUrlConcurrency, timeoutMs } = this.opts.settings;
    const perUrl = Math.min(perUrlConcurrency, concurrency);
    let started = 0;
    while (!this.stopped && this.inFlight.size < concurrency) {
      const now = this.clock.now();
      const full = [...this.busy].filter(([, n]) => n >= perUrl).map(([url]) => url);
      const rows = (await this.opts.db.query<Claimed>(CLAIM, [new Date(now), full, new Date(now + timeoutMs + LEASE_MARGIN_MS)])).rows;
      const row = rows[0];
      if (!row) break;
      started++;
      this.launch(row);
    }
    return started;
  }

  private launch(row: Claimed): void {
    this.busy.set(row.url, (this.busy.get(row.url) ?? 0) + 1);
    this.stats.attempts++;
    const p: Promise<void> = this.deliver(row)
      .catch((err: Error) => {
        // The outcome was not recorded: the lease makes the row due again, so at worst it is sent twice.
        this.stats.dbErrors++;
        this.stats.lastError = err.message;
        this.opts.log.warn({ err: err.message, eventId: row.event_id, url: redact(row.url) }, 'webhook outcome not recorded; the delivery comes due again after its lease');
      })
      .finally(() => {
        const n = (this.busy.get(row.url) ?? 1) - 1;
        if (n > 0) this.busy.set(row.url, n);
        else this.busy.delete(row.url);
        this.inFlight.delete(p);
        this.stats.inFlight = this.inFlight.size;
        // A free slot: more may be waiting.
        this.poke();
      });
    this.inFlight.add(p);
    this.stats.inFlight = this.inFlight.size;
  }

  private async deliver(row: Claimed): Promise<void> {
    const outcome = await this.send(row);
    const now = this.clock.now();
    if (outcome.ok) {
      await this.opts.db.query(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $3, last_status = $4, last_error = NULL
          WHERE event_id = $1 AND url = $2 AND delivered_at IS NULL`,
        [row.event_id, row.url, new Date(now), outcome.status],
      );
      this.stats.delivered++;
      return;
    }
    this.stats.failed++;
    this.stats.lastError = outcome.error ?? '';
    const failures = row.attempts + 1;
    const deadline = row.created_at.getTime() + this.opts.settings.giveUpAfterMs;
    // 410 Gone: the receiver says the endpoint is gone for good, so retrying for a day only adds load.
    const giveUp = outcome.status === 410 || now >= deadline;
    if (giveUp) {
      this.stats.gaveUp++;
      this.opts.log.warn({ eventId: row.event_id, url: redact(row.url), attempts: failures, status: outcome.status, err: outcome.error }, 'webhook delivery given up');
    }
    // The last retry lands on the deadline itself rather than past it, so giveUpAfterMs is a real window.
    const next = Math.min(now + backoffMs(failures, this.opts.settings, this.random), deadline);
    await this.opts.db.query(
      `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $3, last_error = $4,
              next_attempt_at = $5, gave_up_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE NULL END
        WHERE event_id = $1 AND url = $2 AND delivered_at IS NULL`,
      [row.event_id, row.url, outcome.status, outcome.error, new Date(giveUp ? now : next), giveUp, new Date(now)],
    );
  }

  private async send(row: Claimed): Promise<Outcome> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'fieldline-cloud-webhook/1',
      'x-fieldline-event-id': row.event_id,
      'x-fieldline-event-type': eventType(row.body),
    };
    if (row.secret !== null) {
      const ts = Math.floor(this.clock.now() / 1000);
      headers['x-fieldline-timestamp'] = String(ts);
      headers['x-fieldline-signature'] = signPayload(row.secret, ts, row.body);
    }
    try {
      // One signal for the whole exchange: connecting, the answer's head and the part of its body read.
      const signal = AbortSignal.timeout(this.opts.settings.timeoutMs);
      const res = await this.fetch(row.url, { method: 'POST', headers, body: row.body, redirect: 'manual', signal });
      const text = await readSome(res, MAX_ANSWER_BYTES);
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, error: null };
      return { ok: false, status: res.status, error: `HTTP ${res.status}${text ? `: ${text.slice(0, ERROR_TEXT)}` : ''}` };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.opts.settings.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, status: null, error: why.slice(0, ERROR_TEXT) };
    }
  }

  private async prune(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastPruneMs < PRUNE_EVERY_MS) return;
    this.lastPruneMs = now;
    const gone = await this.opts.db.query<{ n: number | string }>(
      `WITH gone AS (DELETE FROM webhook_deliveries WHERE coalesce(delivered_at, gave_up_at) < $1 RETURNING 1) SELECT count(*) AS n FROM gone`,
      [new Date(now - this.opts.settings.retentionMs)],
    );
    this.stats.pruned += Number(gone.rows[0]?.n ?? 0);
  }

  private async loop(): Promise<void> {
    let failing = false;
    while (!this.stopped) {
      this.poked = false;
      try {
        await this.prune();
        await this.fill();
        if (failing) this.opts.log.info('webhook deliveries claimed again');
        failing = false;
        this.stats.state = this.inFlight.size > 0 ? 'running' : 'idle';
      } catch (err) {
        this.stats.dbErrors++;
        this.stats.lastError = (err as Error).message;
        if (!failing) this.opts.log.warn({ err: (err as Error).message }, 'claiming webhook deliveries failed; retrying');
        failing = true;
        this.stats.state = 'failing';
      }
      if (this.stopped || (this.poked && !failing)) continue;
      await this.nap.take(this.opts.settings.intervalMs);
    }
  }

  tallies(): WorkerTallies {
    const s = this.stats;
    return { stage: 'alerts-webhook', received: s.attempts, sent: s.delivered, dropped: { gave_up: s.gaveUp }, errors: s.failed + s.dbErrors };
  }

  /** Deliveries by outcome, for a `…_webhook_deliveries_total{outcome}` counter. */
  outcomes(): Record<'delivered' | 'failed' | 'gave_up', number> {
    return { delivered: this.stats.delivered, failed: this.stats.failed, gave_up: this.stats.gaveUp };
  }

  health(): Record<string, unknown> {
    const s = this.stats;
    return {
      state: s.state,
      inFlight: s.inFlight,
      delivered: s.delivered,
      failed: s.failed,
      gaveUp: s.gaveUp,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
  }
}

function eventType(body: string): string {
  try {
    const t = (JSON.parse(body) as { type?: unknown }).type;
    return typeof t === 'string' ? t : '';
  } catch {
    return '';
  }
}

/** Up to `max` bytes of the answer as text; the rest is cancelled, so a huge answer costs nothing. */
async function readSome(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= max) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, max));
}

/** A receiver URL for the log, without credentials or query (which may hold a token). */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<bad url>';
  }
}
