// GET /v1/auth/oidc: what the dashboard needs for an OIDC login (authorization code + PKCE, in
// the browser, with a public client), so the login screen can offer "Sign in with SSO" where the
// operator configured api.auth.oidc. Public: it is read before the user has a token, and holds
// nothing secret.
import type { FastifyInstance } from 'fastify';
import type { CloudConfig } from '../config/schema.js';
import { CloudError } from '../errors.js';
import { ERROR_RESPONSES } from './schemas.js';

export type OidcSettings = NonNullable<CloudConfig['api']['auth']['oidc']>;

export function registerAuthRoutes(app: FastifyInstance, deps: { oidc?: OidcSettings | undefined }): void {
  app.get(
    '/v1/auth/oidc',
    {
      schema: {
        tags: ['auth'],
        summary: "The OIDC provider's endpoints and client for the dashboard's login; 404 when none is configured",
        security: [],
        response: {
          200: {
            type: 'object',
            required: ['authorization_url', 'token_url', 'client_id', 'scope'],
            additionalProperties: false,
            properties: {
              authorization_url: { type: 'string', format: 'uri' },
              token_url: { type: 'string', format: 'uri' },
              client_id: { type: 'string' },
              scope: { type: 'string', description: 'space-separated scopes to ask for' },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => {
      const o = deps.oidc;
      if (!o) throw new CloudError('FL_ERR_API_NOT_FOUND', 'no OIDC login is configured (api.auth.oidc)');
      return { authorization_url: o.authorizationUrl, token_url: o.tokenUrl, client_id: o.clientId, scope: o.scope };
    },
  );
}
