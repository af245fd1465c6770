// JSON Schema pieces the routes share. A route's schema is its check (fastify's ajv refuses a bad
// parameter with a 400 that names it), its serializer (fast-json-stringify writes only the
// properties a response schema names, so every property an answer carries must be listed) and its
// page in the OpenAPI document at /docs.

/** The error answer of every route: DESIGN.md "Cloud API". */
export const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/**
 * Every status a guarded route may answer besides its own: 400 (a refused parameter), 401, 403,
 * 404, 429 (rate limit), 503 (database down, overload), and 500 for what nobody foresaw.
 */
export const ERROR_RESPONSES = {
  '4xx': { description: 'the request was refused (400, 401, 403, 404, 409, 429)', ...errorBody },
  '5xx': { description: 'the service failed (500) or is unavailable (503, with Retry-After)', ...errorBody },
} as const;

/** RFC 3339 time as responses write it. */
export const isoTime = { type: 'string', format: 'date-time' } as const;
export const nullableIsoTime = { type: ['string', 'null'], format: 'date-time' } as const;

/**
 * A text parameter the database compares: PostgreSQL text holds no NUL character, so one is refused
 * here as a bad parameter instead of failing the query.
 */
export const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength, pattern: '^[^\\u0000]*$' }) as const;

/** A path id (device, gateway, rule, alert): what the ids' own rules allow, with room. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: text(256) },
} as const;

/** `limit` and `cursor` of a paged list. */
export function pageQuery(maxLimit: number): Record<string, unknown> {
  return {
    limit: { type: 'integer', minimum: 1, maximum: maxLimit, description: `rows per page, at most ${maxLimit}` },
    cursor: { type: 'string', minLength: 1, maxLength: 1024, description: 'next_cursor of the previous page' },
  };
}

/** `from`/`to`: RFC 3339 or epoch milliseconds (api/time.ts parses them). */
export const timeParam = (what: string) =>
  ({ type: 'string', minLength: 1, maxLength: 40, description: `${what}: RFC 3339 or epoch milliseconds` }) as const;
