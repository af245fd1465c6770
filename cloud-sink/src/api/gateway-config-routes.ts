// PUT /v1/gateways/{id}/config (DESIGN.md "Cloud API", issue 15): a new version of a gateway's
// config, or of one section of it, checked with the gateway's own schema, stored and published to
// the compacted config topic. Scope admin; a gateway outside the token's fleet is 404. The answer
// is 202: the version is pending until the gateway's heartbeat says it applied it (GET
// /v1/gateways/{id}, `config`).
import type { FastifyInstance } from 'fastify';
import { CLOUD_SECTIONS } from '../../../gateway/src/cloud-config/message.js';
import { deviceIdSchema } from '../../../gateway/src/ingest/device-id.js';
import { CloudError } from '../errors.js';
import { checkConfigBody } from '../gateway-config/body.js';
import type { GatewayConfigBook } from '../gateway-config/publisher.js';
import { assertGatewayVisible, guard, principalOf } from './access.js';
import type { Authenticator } from './auth.js';
import { ERROR_RESPONSES, idParams, isoTime } from './schemas.js';

export interface GatewayConfigRouteDeps {
  auth: Authenticator;
  configs: GatewayConfigBook;
}

const BODY = {
  type: 'object',
  required: ['config'],
  additionalProperties: false,
  description:
    'One section, replacing that section of the gateway\'s config whole ({"section": "modbus", "config": {"enabled": true, "buses": [...]}}), ' +
    `or several sections at once ({"config": {"modbus": {...}, "pipeline": {...}}}), each replacing its section whole. The cloud sets ${CLOUD_SECTIONS.join(', ')}; ` +
    'the rest (gatewayId, dataDir, api, kafka, outbox, logLevel, cloudConfig) only the gateway\'s own file sets. Each section is checked with the gateway\'s schema ' +
    '(gateway/gateway.sample.yaml documents it); secrets may be sent as ******** to keep the gateway\'s stored value.',
  properties: {
    section: { type: 'string', enum: [...CLOUD_SECTIONS] },
    config: { type: 'object', description: 'the section\'s settings, or sections by name' },
  },
} as const;

const ISSUED = {
  type: 'object',
  properties: {
    gateway_id: { type: 'string' },
    version: { type: 'integer', description: 'numbered per gateway by the cloud: 1, 2, 3 …' },
    state: { type: 'string', enum: ['pending'], description: 'pending until the gateway\'s heartbeat reports it applied (GET /v1/gateways/{id}: config)' },
    section: { type: ['string', 'null'] },
    issued_at: isoTime,
    issued_by: { type: 'string' },
    published: { type: 'boolean', description: 'on the config topic already; false: stored, and sent as soon as Kafka takes it' },
  },
} as const;

const BAD_CONFIG = {
  description: 'the body is not a valid config (FL_ERR_API_BAD_CONFIG, with every problem), or the request is malformed',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
  },
} as const;

export function registerGatewayConfigRoutes(app: FastifyInstance, deps: GatewayConfigRouteDeps): void {
  app.put<{ Params: { id: string }; Body: unknown }>(
    '/v1/gateways/:id/config',
    {
      onRequest: guard(deps.auth, 'admin'),
      schema: {
        tags: ['fleet'],
        summary: 'Issue a new version of a gateway\'s config (or of one section); the gateway applies it live, or refuses and rolls back',
        params: idParams,
        body: BODY,
        response: { 202: ISSUED, 400: BAD_CONFIG, ...ERROR_RESPONSES },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const id = req.params.id;
      assertGatewayVisible(p, id);
      if (!deviceIdSchema.safeParse(id).success) throw new CloudError('FL_ERR_API_BAD_PARAM', `${JSON.stringify(id.slice(0, 80))} is not a gateway id (1-128 characters of A-Z a-z 0-9 _ . : -)`);
      const checked = checkConfigBody(req.body);
      if (!checked.ok) {
        const err = new CloudError('FL_ERR_API_BAD_CONFIG', `\n${checked.problems.map((x) => `- ${x.message}`).join('\n')}`);
        return reply.status(400).send({ error: { ...err.toBody().error, issues: checked.problems } });
      }
      const issued = await deps.configs.issue(id, checked.body, p.subject);
      return reply.status(202).send({
        gateway_id: issued.gatewayId,
        version: issued.version,
        state: 'pending',
        section: issued.section,
        issued_at: issued.issuedAt.toISOString(),
        issued_by: issued.issuedBy,
        published: issued.published,
      });
    },
  );
}
