// The query API (DESIGN.md "Cloud API"): fastify, /v1 prefix, bearer JWT with scopes, and every
// error as {"error": {"code", "message"}} with its catalogued status.
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE, type StageCounters } from '../../../common/src/metrics.js';
import { FieldlineError } from '../errors.js';
import type { FleetHealth } from '../fleet/fleet-health.js';
import type { LakeReader } from '../lake/reader.js';
import type { Store } from '../store/store.js';
import { registerAlertRoutes, type AlertApiDeps } from './alert-routes.js';
import { registerCommandRoutes, type CommandApiDeps } from './command-routes.js';
import { DeviceCatalog } from '../store/devices.js';
import { guard } from './access.js';
import { registerDashboardRoutes, type DashboardDeps } from './dashboard-routes.js';
import type { Authenticator } from './auth.js';
import { registerAuthRoutes, type OidcSettings } from './auth-routes.js';
import { registerFleetRoutes } from './fleet-routes.js';
import { registerGatewayConfigRoutes } from './gateway-config-routes.js';
import type { GatewayConfigBook } from '../gateway-config/publisher.js';
import { limitRequests, probe, registerProtection, retryAfterS, unavailableAnswer, type ProtectionSettings } from './protection.js';
import type { LiveFeed } from './live-feed.js';
import { registerStreamRoutes, streamSocketOptions } from './stream.js';
import { registerDeviceRoutes, type QuerySettings } from './device-routes.js';
import { validatorCompiler } from './validation.js';

export interface ApiDeps {
  store: Store;
  auth: Authenticator;
  maxLimit: number;
  health: () => { ok: boolean; detail: Record<string, unknown> };
  /** Prometheus text format (PROMETHEUS_CONTENT_TYPE). */
  metrics: () => Promise<string>;
  /** Where answers of 500 and above count, as errors{stage="api"}. */
  counters?: StageCounters;
  /** GET /v1/gateways…; without it those paths answer 404. */
  fleetHealth?: FleetHealth;
  /** Rules and alerts (/v1/rules, /v1/alerts); without it those paths answer 404. */
  alerts?: AlertApiDeps;
  /** Where the built dashboard is and what its CSP allows; default dist/dashboard. */
  dashboard?: DashboardDeps;
  /** Where one line per request goes (api/protection.ts); without it nothing is logged. */
  log?: FastifyBaseLogger;
  /** Rate limits and overload shedding (config api.rateLimit, api.underPressure); without it neither applies. */
  protection?: ProtectionSettings;
  /** Asks the database for an answer; /healthz is 503 while it gets none. */
  ping?: () => Promise<unknown>;
  /** The dashboard's OIDC login (config api.auth.oidc) for GET /v1/auth/oidc; without it that path is 404. */
  oidc?: OidcSettings;
  /** GET /v1/stream's shared consumer and clients; without it that path answers 404. */
  stream?: LiveFeed;
  /** Aggregate limits, cache and the database's retention (api.query, timescale); defaults without it. */
  query?: QuerySettings;
  /** Opens the Parquet lake when an old range needs it (null: no lake); without it old ranges come from the database. */
  lake?: () => Promise<LakeReader | null>;
  /** Device commands (POST|GET /v1/devices/{id}/commands); without it those paths answer 404. */
  commands?: CommandApiDeps;
  /** PUT /v1/gateways/{id}/config; without it that path answers 404. */
  gatewayConfigs?: GatewayConfigBook;
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.log ? { loggerInstance: deps.log } : { logger: false }),
    // api/protection.ts logs one line per request itself, without the URL's query string.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 256 },
    // A bad URL or an over-long path parameter is answered before any route runs; in our shape too.
    frameworkErrors: (err, _req, reply) => {
      const code = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'FL_ERR_API_BAD_PARAM' : 'FL_ERR_API_BAD_REQUEST';
      const message = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than 256 characters' : 'the URL is not valid';
      void (reply as FastifyReply).code(400).send({ error: { code, message } });
    },
  });
  app.setValidatorCompiler(validatorCompiler());

  app.setErrorHandler((thrown: Error & { statusCode?: number; code?: string; validation?: ValidationIssue[]; validationContext?: string }, req, reply) => {
    const err = unavailableAnswer(thrown) ?? thrown;
    if (err instanceof FieldlineError) {
      if (err.statusCode === 503 && !reply.hasHeader('retry-after')) void reply.header('retry-after', retryAfterS(deps.protection));
      if (err.statusCode >= 500) deps.counters?.count('api', 'errors');
      return reply.status(err.statusCode).send(err.toBody());
    }
    if (err.validation) {
      // The route's schema refused the request; fastify's message names the part and the field
      // ("querystring/limit must be <= 1000").
      const code = err.validationContext === 'body' ? 'FL_ERR_API_BAD_REQUEST' : 'FL_ERR_API_BAD_PARAM';
      return reply.status(400).send({ error: { code, message: validationMessage(err.validationContext ?? 'request', err.validation, err.message) } });
    }
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      deps.counters?.count('api', 'errors');
      req.log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'request failed');
    }
    const code = status === 500 ? 'FL_ERR_API_INTERNAL' : 'FL_ERR_API_BAD_REQUEST';
    return reply.status(status).send({ error: { code, message: status === 500 ? 'internal error' : err.message } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'FL_ERR_API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } }),
  );

  // Registered before the routes, so its onRoute hook sees every one of them (the routes are
  // added in a plugin registered after it).
  void app.register(swagger, { openapi: OPENAPI });
  void app.register(swaggerUi, { routePrefix: '/docs' });
  registerProtection(app, deps.protection);
  void app.register(websocket, streamSocketOptions());
  void app.register(async (api) => {
    limitRequests(api, deps.protection, deps.auth);
    registerRoutes(api, deps);
  });
  return app;
}

function registerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/healthz', async (_req, reply) => {
    const h = deps.health();
    const db = deps.ping ? await probe(deps.ping, 2_000) : undefined;
    const ok = h.ok && db?.ok !== false;
    const reach = db ? { database_reachable: db.ok, ...(db.error ? { database_error: db.error } : {}) } : {};
    return reply.status(ok ? 200 : 503).send({ ok, ...h.detail, ...reach });
  });

  app.get('/metrics', async (_req, reply) => reply.type(PROMETHEUS_CONTENT_TYPE).send(await deps.metrics()));

  registerDeviceRoutes(app, deps);

  if (deps.fleetHealth) registerFleetRoutes(app, { auth: deps.auth, fleet: deps.fleetHealth });
  if (deps.gatewayConfigs) registerGatewayConfigRoutes(app, { auth: deps.auth, configs: deps.gatewayConfigs });

  registerAlertRoutes(app, deps);
  registerCommandRoutes(app, { auth: deps.auth, commands: deps.commands, catalog: new DeviceCatalog(deps.store.db) });
  registerDashboardRoutes(app, deps.dashboard, deps.oidc);
  registerAuthRoutes(app, deps);
  registerStreamRoutes(app, deps);
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "querystring/limit must be <= 1000"; an unknown key is named, which ajv's own message does not do. */
function validationMessage(part: string, issues: ValidationIssue[], fallback: string): string {
  const first = issues[0];
  if (!first) return fallback;
  const where = `${part}${first.instancePath}`;
  if (first.keyword === 'additionalProperties') return `${where}: unknown key ${JSON.stringify(first.params.additionalProperty)}`;
  if (first.keyword === 'required') return `${where}: ${JSON.stringify(first.params.missingProperty)} is required`;
  if (first.keyword === 'enum') return `${where} must be one of ${(first.params.allowedValues as unknown[]).map(String).join(', ')}`;
  return `${where} ${first.message ?? 'is invalid'}`;
}

/** The OpenAPI document's own part; each route adds its path from its schema. */
const OPENAPI: NonNullable<FastifyDynamicSwaggerOptions['openapi']> = {
  openapi: '3.1.0',
  info: {
    title: 'Fieldline cloud API',
    version: '1',
    description: 'Telemetry, fleet health, alert rules and alerts. Every path but /healthz, /metrics and /docs takes a bearer JWT.',
  },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: [] }],
};
