// fieldline-cloud token: signs an HS256 API token with the API's own secret, issuer and audience
// (config api.jwtSecret, api.auth), so the token works against the API run with the same config.
// It reads the config and nothing else: no database, no Kafka, no listener.
import { parseArgs } from 'node:util';
import { ROLE_SCOPES, SCOPES, type Role, type Scope } from '../api/auth.js';
import { tokenAuthority } from '../cloud.js';
import type { CloudConfig } from '../config/schema.js';

export const TOKEN_USAGE = `  fieldline-cloud token [--role viewer|operator|admin] [--scope SCOPE]… [--fleet GW,GW…]
                        [--ttl 3600|15m|12h|7d] [--subject NAME] [--audience AUD] [--config cloud.yaml]
      Prints an API token. --scope repeats or takes a comma list (${SCOPES.join(', ')});
      without --role or --scope the token is a viewer's. --fleet limits it to those gateways.`;

/** Longest lifetime a dev token may have: a year. */
const MAX_TTL_S = 366 * 86_400;
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

export interface TokenRequest {
  subject: string;
  role?: Role;
  scopes: Scope[];
  fleet?: string[];
  ttlSeconds: number;
  audience?: string;
}

/** A refused option: the message names it, the value and what was expected. */
export class UsageError extends Error {}

/** --help: the usage goes to stdout and the exit code is 0. */
class HelpRequested extends Error {}

/** `3600`, `90s`, `15m`, `12h`, `7d` → seconds, from 1 s to a year. */
export function parseTtl(raw: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(raw.trim());
  const s = m ? Number(m[1]) * UNIT_S[m[2] || 's']! : NaN;
  if (!(s >= 1 && s <= MAX_TTL_S)) throw new UsageError(`--ttl ${JSON.stringify(raw)}: expected seconds or a count with s, m, h or d (15m, 12h, 7d), from 1s to 366d`);
  return s;
}

/** Repeated and comma-separated values, trimmed, empty items dropped. */
function listOf(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export function parseTokenArgs(argv: string[]): TokenRequest & { config?: string } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        role: { type: 'string' },
        scope: { type: 'string', multiple: true },
        fleet: { type: 'string' },
        ttl: { type: 'string', default: '24h' },
        subject: { type: 'string', default: 'cli' },
        audience: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new HelpRequested();
  if (v.role !== undefined && !Object.hasOwn(ROLE_SCOPES, v.role)) {
    throw new UsageError(`--role ${JSON.stringify(v.role)}: expected one of ${Object.keys(ROLE_SCOPES).join(', ')}`);
  }
  const scopes = listOf(v.scope ?? []);
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new UsageError(`--scope ${JSON.stringify(s)}: expected one of ${SCOPES.join(', ')}`);
  }
  const role = v.role === undefined && scopes.length === 0 ? 'viewer' : (v.role as Role | undefined);
  let fleet: string[] | undefined;
  if (v.fleet !== undefined) {
    fleet = listOf([v.fleet]);
    // The same rule the sink applies to gateway ids (sink.maxDeviceIdLength aside): printable, short.
    for (const g of fleet) {
      if (g.length > 128 || /[\s\p{Cc}]/u.test(g)) throw new UsageError(`--fleet ${JSON.stringify(g)}: a gateway id has no spaces or control characters and at most 128 characters`);
    }
    if (fleet.length === 0) throw new UsageError('--fleet is empty: name at least one gateway id (omit --fleet for every gateway)');
  }
  const subject = v.subject.trim();
  if (subject === '' || subject.length > 256) throw new UsageError(`--subject ${JSON.stringify(v.subject)}: expected 1 to 256 characters`);
  if (v.audience !== undefined && v.audience.trim() === '') throw new UsageError('--audience is empty');
  return {
    subject,
    ...(role ? { role } : {}),
    scopes: scopes as Scope[],
    ...(fleet ? { fleet } : {}),
    ttlSeconds: parseTtl(v.ttl),
    ...(v.audience !== undefined ? { audience: v.audience.trim() } : {}),
    ...(v.config !== undefined ? { config: v.config } : {}),
  };
}

export async function tokenMain(argv: string[], loadConfig: (file: string | undefined) => CloudConfig): Promise<number> {
  let req;
  try {
    req = parseTokenArgs(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(`usage:\n${TOKEN_USAGE}`);
      return 0;
    }
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\nusage:\n${TOKEN_USAGE}`);
    return 2;
  }
  const cfg = loadConfig(req.config);
  if (!cfg.api.auth.secretTokens) {
    console.error('api.auth.secretTokens is false: the API accepts no HS256 tokens, so this one would be refused; get a token from the identity provider');
    return 2;
  }
  console.log(await tokenAuthority(cfg).issue(req));
  return 0;
}
