// The commissioning page at `/` (docs/OPERATIONS.md "Commissioning a gateway on site"): index.html
// and its hashed assets from dist/commissioning, which `npm run build` writes
// (scripts/build-dashboard.mjs). These are the only routes besides /healthz that answer without the
// admin token (server.ts skips the check for routes marked PUBLIC): the page asks the tech for the
// token and sends it with every API call itself. Nothing in the files is secret.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../errors.js';

export interface PageDeps {
  /** The built page; default dist/commissioning beside this compiled file's dist/. */
  dir?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answered without the admin token (server.ts's onRequest hook): the page's own files only. */
    public?: boolean;
  }
}

export const PUBLIC = { public: true };

/** dist/gateway/src/api/ → dist/commissioning. */
export const DEFAULT_PAGE_DIR = fileURLToPath(new URL('../../../commissioning/', import.meta.url));

const ASSET_NAME = /^[A-Za-z0-9_-]+\.(js|css|svg|png|ico)$/;
const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
};

/**
 * Scripts and styles from this origin only (no inline script, no eval), API calls to this origin
 * only: a page served by a gateway in a cabinet has no business talking to anything else.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

export function pageRoutes(app: FastifyInstance, deps: PageDeps = {}): void {
  const dir = deps.dir ?? DEFAULT_PAGE_DIR;
  const secure = (reply: FastifyReply): FastifyReply =>
    reply
      .header('content-security-policy', PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  // Revalidated every time, so an upgraded gateway's new hashed assets are picked up at once.
  const index = async (_req: unknown, reply: FastifyReply) => {
    const file = join(dir, 'index.html');
    if (!existsSync(file)) throw new GatewayError('FL_ERR_API_PAGE_MISSING', `no ${file}`);
    return secure(reply).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(await readFile(file));
  };
  app.get('/', { config: PUBLIC }, index);
  app.get('/index.html', { config: PUBLIC }, index);

  // Named after their content hash: a changed file has a new name, so they never need revalidating.
  app.get<{ Params: { name: string } }>('/assets/:name', { config: PUBLIC }, async (req, reply) => {
    const name = req.params.name;
    const ext = ASSET_NAME.exec(name)?.[1];
    const file = join(dir, 'assets', name);
    if (!ext || !existsSync(file)) {
      if (!existsSync(join(dir, 'index.html'))) throw new GatewayError('FL_ERR_API_PAGE_MISSING', `no ${dir}`);
      throw new GatewayError('FL_ERR_API_NOT_FOUND', `no asset ${JSON.stringify(name)}`);
    }
    return secure(reply)
      .type(TYPES[ext] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(await readFile(file));
  });
}
