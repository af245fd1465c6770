// The body of PUT /v1/gateways/{id}/config, checked before anything is stored: its shape here, each
// section with the gateway's own schema (gateway/src/config/schema.ts), through the same checker
// as the gateway's start-up and PATCH /config, so a refusal reads the same on both sides. Checks
// that span sections the body does not carry (a device's rate-limit profile) are the gateway's:
// it checks the whole config again before applying, and reports a refusal in its heartbeat.
import { z } from 'zod';
import { ConfigError, checkConfig } from '../../../common/src/config.js';
import { CLOUD_SECTIONS, isCloudSection, type CloudSection } from '../../../gateway/src/cloud-config/message.js';
import { gatewaySectionSchemas } from '../../../gateway/src/config/schema.js';

export interface ConfigBody {
  /** Set: `config` is this one section. */
  section?: CloudSection;
  config: Record<string, unknown>;
}

export interface BodyProblem {
  /** Dotted key in the gateway's config ('' for the body as a whole). */
  path: string;
  message: string;
}

export type BodyCheck = { ok: true; body: ConfigBody } | { ok: false; problems: BodyProblem[] };

const sectionSchemas = Object.fromEntries(CLOUD_SECTIONS.map((s) => [s, gatewaySectionSchemas[s]])) as {
  [K in CloudSection]: (typeof gatewaySectionSchemas)[K];
};

// No environment is merged in: the cloud's FIELDLINE_* variables say nothing about a gateway.
const NO_ENV = { env: {}, envPrefix: 'FIELDLINE_GATEWAY_' };

export function checkConfigBody(input: unknown): BodyCheck {
  const fail = (path: string, message: string): BodyCheck => ({ ok: false, problems: [{ path, message }] });
  if (!isObject(input)) return fail('', 'expected a JSON object {"section"?: NAME, "config": {...}}');
  const extra = Object.keys(input).filter((k) => k !== 'section' && k !== 'config');
  if (extra.length) return fail(extra[0]!, `unknown key ${extra.join(', ')} (expected section and config)`);
  const { section, config } = input;
  if (section !== undefined && (typeof section !== 'string' || !isCloudSection(section))) {
    return fail('section', `${JSON.stringify(section)} is not one of ${CLOUD_SECTIONS.join(', ')}`);
  }
  if (!isObject(config)) return fail('config', 'expected a JSON object');
  // PostgreSQL's jsonb cannot hold U+0000, and no setting needs it.
  if (JSON.stringify(config).includes('\\u0000')) return fail('config', 'a string holds the character U+0000');
  let tree: Record<string, unknown>;
  if (section !== undefined) {
    tree = { [section]: config };
  } else {
    const local = Object.keys(config).filter((k) => !isCloudSection(k));
    if (local.length) {
      return { ok: false, problems: local.map((k) => ({ path: k, message: `${k} is set only in the gateway's own file; the cloud sets ${CLOUD_SECTIONS.join(', ')}` })) };
    }
    if (Object.keys(config).length === 0) return fail('config', `expected at least one of ${CLOUD_SECTIONS.join(', ')}`);
    tree = config;
  }
  const schema = z.strictObject(Object.fromEntries(Object.keys(tree).map((k) => [k, sectionSchemas[k as CloudSection]])));
  try {
    checkConfig(schema, tree, NO_ENV);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, problems: err.issues.map((i) => ({ path: i.path, message: i.message })) };
  }
  // What is stored and sent is the body as given, not the parsed result with every default filled
  // in: the gateway's file then holds what the operator wrote, and the gateway's defaults apply.
  return { ok: true, body: { ...(section === undefined ? {} : { section }), config } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
