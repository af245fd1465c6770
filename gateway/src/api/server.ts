// The gateway's local API (DESIGN.md "Gateway local API"): health, status and metrics for field
// techs and monitoring, and the Modbus commissioning actions (modbus.ts), behind the local admin
// token. /healthz stays open for load balancers.
import Fastify, { type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { PROMETHEUS_CONTENT_TYPE } from '../../../common/src/metrics.js';
import { FieldlineError, GatewayError, catalogue } from '../errors.js';
import { ModbusFailure } from '../ingest/modbus/transport.js';
import { configRoutes, type ConfigApiDeps } from './config-routes.js';
import { modbusRoutes, type ModbusApiDeps } from './modbus.js';
import { modbusCommissioningRoutes, type ModbusCommissioningDeps } from './modbus-commissioning.js';
import { mqttRoutes, type MqttApiDeps } from './mqtt-routes.js';
import { pageRoutes, type PageDeps } from './page-routes.js';

export interface LocalApiDeps {
  token: string;
  status: () => unknown;
  /** Prometheus text format (PROMETHEUS_CONTENT_TYPE). */
  metrics: () => Promise<string>;
  quarantine: (limit: number) => unknown;
  devices: () => unknown;
  /** The Modbus adapter; undefined when Modbus is disabled (its routes answer 503). */
  modbus?: ModbusApiDeps | undefined;
  /** The config file and the running gateway, for GET/PATCH /config; undefined: those routes answer 404. */
  config?: ConfigApiDeps | undefined;
  /** Scan jobs, ports and templates (modbus-commissioning.ts); they work with Modbus off too. */
  modbusCommissioning?: Omit<ModbusCommissioningDeps, 'adapter'>;
  /** Connected MQTT clients and the device CA's certificates (mqtt-routes.ts). */
  mqtt?: MqttApiDeps | undefined;
  /** The commissioning page at `/` (page-routes.ts); default: the built page in dist/commissioning. */
  page?: PageDeps | undefined;
}

export function buildLocalApi(deps: LocalApiDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  const expected = Buffer.from(`Bearer ${deps.token}`);

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof ModbusFailure) {
      // A manual read that got no data: the device's answer (or silence) is the error.
      const { status, message } = catalogue[err.code];
      const exception = err.exceptionCode === undefined ? {} : { exceptionCode: err.exceptionCode };
      void reply.status(status).send({ error: { code: err.code, message: `${message}: ${err.message}`, ...exception } });
      return;
    }
    const known = err instanceof FieldlineError ? err : null;
    const status = known?.statusCode ?? (err.statusCode && err.statusCode < 500 ? err.statusCode : 500);
    const code = known?.code ?? (status < 500 ? 'FL_ERR_API_BAD_REQUEST' : 'FL_ERR_API_INTERNAL');
    void reply.status(status).send({ error: { code, message: status < 500 || known ? err.message : 'internal error' } });
  });

  app.setNotFoundHandler((req, reply) => {
    const err = new GatewayError('FL_ERR_API_NOT_FOUND', `${req.method} ${req.url.split('?')[0]}`);
    void reply.status(err.statusCode).send(err.toBody());
  });

  app.addHook('onRequest', async (req) => {
    if (req.url === '/healthz' || req.routeOptions.config.public) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new GatewayError('FL_ERR_API_UNAUTHORIZED');
    }
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/status', async () => deps.status());
  app.get('/metrics', async (_req, reply) => {
    void reply.type(PROMETHEUS_CONTENT_TYPE);
    return deps.metrics();
  });
  app.get('/devices', async () => ({ devices: deps.devices() }));
  app.get<{ Querystring: { limit?: string } }>('/quarantine', async (req) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 1000);
    return { items: deps.quarantine(limit) };
  });
  modbusRoutes(app, deps.modbus);
  if (deps.config) configRoutes(app, deps.config);
  modbusCommissioningRoutes(app, { ...deps.modbusCommissioning, adapter: deps.modbus });
  mqttRoutes(app, deps.mqtt);
  pageRoutes(app, deps.page);
  return app;
}
