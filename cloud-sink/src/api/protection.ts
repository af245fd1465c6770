// What keeps the API answering when clients, the process or the database misbehave: per-token
// rate limits (429), overload shedding and an unreachable database (503 with Retry-After rather
// than a request that hangs), and one log line per request that never holds a token.
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CloudConfig } from '../config/schema.js';
import { CloudError, FieldlineError } from '../errors.js';
import { sqlState } from '../store/db.js';
import { verifyOnce } from './access.js';
import type { Authenticator } from './auth.js';

export type ProtectionSettings = Pick<CloudConfig['api'], 'rateLimit' | 'underPressure'>;

/** Probes and scrapes answer under any load and are never limited: a balancer or Prometheus must see the state. */
const UNLIMITED = new Set(['/healthz', '/metrics']);

const DEFAULT_RETRY_AFTER_S = 5;

export function retryAfterS(settings: ProtectionSettings | undefined): number {
  return settings?.underPressure.retryAfterS ?? DEFAULT_RETRY_AFTER_S;
}

/**
 * Root-level parts: overload shedding (first of all hooks, so a shed request costs nothing more),
 * the limiter's store, and the request log. The limiter itself is `limitRequests`, added inside the
 * routes' plugin.
 */
export function registerProtection(app: FastifyInstance, settings: ProtectionSettings | undefined): void {
  const up = settings?.underPressure;
  if (up?.enabled) {
    void app.register(underPressure, {
      maxEventLoopDelay: up.maxEventLoopDelayMs,
      maxHeapUsedBytes: up.maxHeapUsedBytes,
      maxRssBytes: up.maxRssBytes,
      retryAfter: up.retryAfterS,
      pressureHandler: (req, reply, type) => {
        // undefined lets the request through; a rejection goes to the error handler as its answer.
        if (UNLIMITED.has(req.routeOptions.url ?? '')) return;
        void reply.header('retry-after', up.retryAfterS);
        return Promise.reject(new CloudError('FL_ERR_API_UNAVAILABLE', `the process is overloaded (${type})`));
      },
    });
  }
  const rl = settings?.rateLimit;
  if (rl?.enabled) {
    void app.register(rateLimit, {
      global: false,
      max: rl.max,
      timeWindow: rl.timeWindowMs,
      errorResponseBuilder: (_req, ctx) => new CloudError('FL_ERR_API_RATE_LIMITED', `${ctx.max} requests per ${rl.timeWindowMs / 1000} s; retry in ${ctx.after}`),
    });
  }
  app.addHook('onResponse', async (req, reply) => logRequest(req, reply));
}

/**
 * Adds the limiter to every route registered after it in this plugin. A plugin-level onRequest hook
 * runs before the routes' own (the guard), so a flood of bad tokens is limited too; its key is the
 * token's subject, so one caller's tokens share one budget, else the client address.
 */
export function limitRequests(api: FastifyInstance, settings: ProtectionSettings | undefined, auth: Authenticator): void {
  if (!settings?.rateLimit.enabled) return;
  const limiter = api.rateLimit({
    keyGenerator: async (req: FastifyRequest) => {
      try {
        return `sub:${(await verifyOnce(req, auth)).subject}`;
      } catch {
        return `ip:${req.ip}`;
      }
    },
  });
  api.addHook('onRequest', async (req, reply) => {
    if (UNLIMITED.has(req.routeOptions.url ?? '')) return;
    await limiter.call(api, req, reply);
  });
}

/**
 * The answer for an error that means "not now" rather than "never": the database unreachable or a
 * query cancelled by the API pool's statement_timeout. null for every other error.
 */
export function unavailableAnswer(err: unknown): CloudError | null {
  if (err instanceof FieldlineError && err.code === 'FL_ERR_STORE_UNAVAILABLE') return new CloudError('FL_ERR_API_UNAVAILABLE', 'the database is unreachable', { cause: err });
  if (sqlState(err) === '57014') return new CloudError('FL_ERR_API_UNAVAILABLE', 'a database query took too long', { cause: err });
  return null;
}

/** Whether the database answers `ping` within `timeoutMs`, for /healthz. */
export async function probe(ping: () => Promise<unknown>, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([ping(), late]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One line per request. The route's pattern, never the URL: the stream route may carry its token
 * in `access_token`, and query strings are the caller's to fill.
 */
function logRequest(req: FastifyRequest, reply: FastifyReply): void {
  req.log.info(
    {
      method: req.method,
      route: req.routeOptions.url ?? null,
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      subject: req.principal?.subject ?? null,
    },
    'request',
  );
}
