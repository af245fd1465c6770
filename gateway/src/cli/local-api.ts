// Where the running gateway's local API listens and which token it takes, for the field-tech
// commands that go through it (modbus --bus, status): flags first, then the gateway's own config.
import { loadConfig } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';

/** A bad command line: the command prints the message and its usage and exits 2. */
export class UsageError extends Error {}

export interface LocalApiTarget {
  /** Without a trailing slash, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Undefined only when `tokenOptional` was asked for and neither flag nor config has one. */
  token: string | undefined;
}

export interface LocalApiFlags {
  api?: string | undefined;
  token?: string | undefined;
  config?: string | undefined;
}

/**
 * --api and --token win; what they leave open comes from api.host, api.port and api.adminToken in
 * --config FILE and the FIELDLINE_GW_API__* variables. `cfg` skips loading the config again.
 */
export function localApiTarget(flags: LocalApiFlags, opts: { tokenOptional?: boolean; cfg?: GatewayConfig } = {}): LocalApiTarget {
  let url = flags.api;
  let token = flags.token;
  if (url === undefined || token === undefined) {
    const cfg = opts.cfg ?? loadConfig(gatewayConfigSchema, { file: flags.config, envPrefix: GATEWAY_ENV_PREFIX });
    const host = cfg.api.host === '0.0.0.0' || cfg.api.host === '::' ? '127.0.0.1' : cfg.api.host;
    url ??= `http://${host.includes(':') ? `[${host}]` : host}:${cfg.api.port}`;
    token ??= cfg.api.adminToken;
  }
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--api: expected a URL like http://127.0.0.1:8080 (got ${JSON.stringify(url)})`);
  if (token === undefined && !opts.tokenOptional) {
    throw new UsageError(`--token: the gateway's admin token is needed; pass --token, or set api.adminToken in --config FILE or ${GATEWAY_ENV_PREFIX}API__ADMIN_TOKEN`);
  }
  return { url: url.replace(/\/+$/, ''), token };
}
