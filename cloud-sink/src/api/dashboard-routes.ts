// The operators' dashboard at `/` (docs/DASHBOARD.md): index.html and its hashed assets from
// dist/dashboard, which `npm run build` writes (scripts/build-dashboard.mjs). No token on these
// files: the page signs in itself and sends the token with each API call. Client-side routes live
// in the hash, so `/` is the only page.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CloudError } from '../errors.js';

export interface DashboardDeps {
  /** The built dashboard; default dist/dashboard beside this compiled file's dist/. */
  dir?: string;
  /**
   * Origins the page may call besides its own, e.g. an OIDC provider's token endpoint
   * (`https://sso.example.com`), added to the CSP's connect-src.
   */
  connectOrigins?: readonly string[];
}

/** dist/cloud-sink/src/api/ → dist/dashboard. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css|map|svg|png|ico|woff2)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
};
/** A Host header that can go into the CSP as it is; anything else falls back to 'self' alone. */
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * Scripts and styles from this origin only (no inline script, no eval); the API and the WebSocket
 * stream on this host. ws(s) are named with the host because not every browser lets 'self' cover
 * the WebSocket schemes.
 */
export function contentSecurityPolicy(host: string | undefined, connectOrigins: readonly string[] = []): string {
  const connect = ["'self'"];
  if (host && SAFE_HOST.test(host)) connect.push(`ws://${host}`, `wss://${host}`);
  connect.push(...connectOrigins);
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * `oidc`: the SSO login the page offers (GET /v1/auth/oidc); the browser trades the code for a
 * token at its token endpoint itself, so that origin joins connect-src.
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps = {}, oidc?: { tokenUrl: string }): void {
  const dir = deps.dir ?? DEFAULT_DASHBOARD_DIR;
  const origins = [...(deps.connectOrigins ?? []), ...(oidc ? [new URL(oidc.tokenUrl).origin] : [])];
  const secure = (req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply
      .header('content-security-policy', contentSecurityPolicy(req.headers.host, origins))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  // The page itself is revalidated every time, so a new build's hashed assets are picked up at once.
  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    const file = join(dir, 'index.html');
    if (!existsSync(file)) throw new CloudError('FL_ERR_API_DASHBOARD_MISSING', `no ${file}`);
    return secure(req, reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(await readFile(file));
  };
  app.get('/', { schema: { hide: true } }, index);
  app.get('/index.html', { schema: { hide: true } }, index);

  // Named after their content hash: a changed file has a new name, so they never need revalidating.
  app.get<{ Params: { name: string } }>('/assets/:name', { schema: { hide: true } }, async (req, reply) => {
    const name = req.params.name;
    const ext = ASSET_NAME.exec(name)?.[1];
    const file = join(dir, 'assets', name);
    if (!ext || !existsSync(file)) {
      if (!existsSync(join(dir, 'index.html'))) throw new CloudError('FL_ERR_API_DASHBOARD_MISSING', `no ${dir}`);
      throw new CloudError('FL_ERR_API_NOT_FOUND', `no asset ${JSON.stringify(name)}`);
    }
    return secure(req, reply)
      .type(TYPES[ext] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(await readFile(file));
  });
}
